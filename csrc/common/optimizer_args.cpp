// The optimiser arguments' checks (common/optimizer_args.h).
#include "optimizer_args.h"

#include <ATen/ops/all.h>
#include <ATen/ops/isfinite.h>

#include <cmath>
#include <string>

#include "checks.h"

namespace torch_local_rnn {

Optimizer parse_optimizer(c10::string_view name, const char* op) {
  if (name == "sgd") return Optimizer::Sgd;
  if (name == "momentum") return Optimizer::Momentum;
  if (name == "adam") return Optimizer::Adam;
  if (name == "adamw") return Optimizer::AdamW;
  if (name == "none") return Optimizer::None;
  TORCH_CHECK(false, op, ": expected optimizer to be one of 'sgd', 'momentum', 'adam', 'adamw', 'none', but got '",
              std::string(name), "'");
}

namespace {

const char* const kOptionLayouts[] = {"[]", "[momentum, dampening, nesterov]", "[beta1, beta2, eps]",
                                      "[beta1, beta2, eps]", "[]"};
const char* const kStateLayouts[] = {
    "none", "[velocity (hidden_size, m), velocity_out (output_size, hidden_size + 1)] flat",
    "[m (hidden_size, m), v (hidden_size, m), m_out (output_size, hidden_size + 1), v_out (output_size, "
    "hidden_size + 1)] flat",
    "[m (hidden_size, m), v (hidden_size, m), m_out (output_size, hidden_size + 1), v_out (output_size, "
    "hidden_size + 1)] flat",
    "[grad (hidden_size, m), grad_out (output_size, hidden_size + 1)] flat"};

void check_in(double value, double low, bool low_open, double high, bool high_open, const char* op,
              const char* name) {
  const bool ok = std::isfinite(value) && (low_open ? value > low : value >= low) &&
                  (high_open ? value < high : value <= high);
  TORCH_CHECK(ok, op, ": expected optimizer_options' ", name, " in ", low_open ? "(" : "[", low, ", ", high,
              high_open ? ")" : "]", ", but got ", value);
}

}  // namespace

OptimizerCall check_optimizer_args(const char* op, c10::string_view name, c10::ArrayRef<double> options,
                                   const std::optional<at::Tensor>& state, int64_t steps, const std::optional<at::Tensor>& lr_schedule,
                                   const at::Tensor& x, const OnlineArgs& a) {
  OptimizerCall c;
  c.kind = parse_optimizer(name, op);
  const int kind = static_cast<int>(c.kind);
  const size_t want = (c.kind == Optimizer::Sgd || c.kind == Optimizer::None) ? 0 : 3;
  TORCH_CHECK(options.size() == want, op, ": optimizer '", std::string(name), "' expects optimizer_options = ",
              kOptionLayouts[kind], ", but got ", options.size(), " values");
  c.options.assign(options.begin(), options.end());
  if (c.kind == Optimizer::Momentum) {
    check_in(options[0], 0.0, false, INFINITY, true, op, "momentum");
    check_in(options[1], 0.0, false, 1.0, false, op, "dampening");
    TORCH_CHECK(options[2] == 0.0 || options[2] == 1.0, op,
                ": expected optimizer_options' nesterov to be 0 or 1, but got ", options[2]);
    TORCH_CHECK(options[2] == 0.0 || (options[0] > 0.0 && options[1] == 0.0), op,
                ": nesterov momentum requires momentum > 0 and dampening = 0, but got momentum ", options[0],
                " and dampening ", options[1]);
  } else if (c.kind == Optimizer::Adam || c.kind == Optimizer::AdamW) {
    check_in(options[0], 0.0, false, 1.0, true, op, "beta1");
    check_in(options[1], 0.0, false, 1.0, true, op, "beta2");
    check_in(options[2], 0.0, true, INFINITY, true, op, "eps");
  }
  TORCH_CHECK(steps >= 0, op, ": expected optimizer_steps >= 0, but got ", steps);
  c.steps = steps;
  const int64_t numel = optimizer_state_numel(c.kind, a.n, a.I, a.O);
  if (numel == 0) {
    TORCH_CHECK(!state || state->numel() == 0, op, ": optimizer '", std::string(name),
                "' keeps no state, but got optimizer_state of shape ", shape_str(state->sizes()));
  } else {
    TORCH_CHECK(state.has_value(), op, ": optimizer '", std::string(name), "' expects optimizer_state = ",
                kStateLayouts[kind], " (", numel, " values, m = hidden_size + input_size + 1), but got None");
    const std::string layout = std::string(kStateLayouts[kind]) + ", m = hidden_size + input_size + 1";
    check_state(op, *state, x, {numel}, "optimizer_state", layout.c_str());
    c.state = state;
  }
  if (lr_schedule) {
    check_like(*lr_schedule, x, op, "lr_schedule", "x");
    check_shape(*lr_schedule, {a.T}, op, "lr_schedule", "(seq_len,)");
    TORCH_CHECK(lr_schedule->is_contiguous(), op, ": expected lr_schedule to be contiguous");
    TORCH_CHECK(at::isfinite(*lr_schedule).all().item<bool>() && lr_schedule->ge(0).all().item<bool>(), op,
                ": expected every value of lr_schedule to be a finite number >= 0");
    c.lr_schedule = lr_schedule;
  }
  return c;
}

}  // namespace torch_local_rnn
