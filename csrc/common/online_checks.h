// Argument checks of the online (per-step, in-place) ops, shared by every rule and device.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <cmath>
#include <optional>
#include <vector>

#include "activation.h"
#include "checks.h"

namespace torch_local_rnn {

struct OnlineArgs {
  int64_t T, B, n, I, O;
  Nonlinearity f;
  Loss loss;
  double l2 = 0.0;  // L2 on W_hh, W_ih, W_out (not biases): l2 W added to their gradients (docs/algorithms.md §2.1 4d)
};

// A tensor the op updates in place: right dtype, device and shape, and contiguous, since it
// is written through a raw pointer.
inline void check_state(const char* op, const at::Tensor& t, const at::Tensor& x, std::vector<int64_t> shape,
                        const char* name, const char* layout) {
  check_like(t, x, op, name, "x");
  check_shape(t, shape, op, name, layout);
  TORCH_CHECK(t.is_contiguous(), op, ": expected ", name,
              " to be contiguous (it is updated in place), but got strides ", shape_str(t.strides()));
}

// A step counter kept in a state tensor of x's dtype holds the integers [0, limit) and is advanced by adding 1 in
// that dtype: float32 holds every integer only up to 2^24, beyond which count + 1 rounds back to count and the
// counter (a ring index, a refresh or reset schedule) would stop silently. Such a limit needs float64.
inline void check_counter_range(const at::Tensor& x, int64_t limit, const char* op, const char* counter,
                                const char* what) {
  constexpr int64_t kFloatExact = int64_t(1) << 24;
  TORCH_CHECK(x.scalar_type() != at::kFloat || limit <= kFloatExact, op, ": ", counter, " counts up to ", limit,
              " (", what, ") in x's dtype, but float32 holds integers exactly only up to 2^24 = ", kFloatExact,
              "; use float64, or a ", what, " within that range");
}

inline OnlineArgs check_online_args(const char* op, const at::Tensor& x, const at::Tensor& y, const at::Tensor& hidden,
                                    const at::Tensor& weight_hh, const at::Tensor& weight_ih, const at::Tensor& bias,
                                    const at::Tensor& weight_out, const at::Tensor& bias_out,
                                    const std::optional<at::Tensor>& feedback, double alpha,
                                    c10::string_view nonlinearity, c10::string_view loss, double lr,
                                    double l2 = 0.0) {
  check_floating(x, op, "x");
  check_shape(x, {-1, -1, -1}, op, "x", "(seq_len, batch, input_size)");
  check_nonempty(x, op, "x");
  OnlineArgs a{x.size(0), x.size(1), 0, x.size(2), 0, parse_nonlinearity(std::string(nonlinearity), op),
               parse_loss(std::string(loss), op)};
  check_like(y, x, op, "y", "x");
  check_shape(y, {a.T, a.B, -1}, op, "y", "(seq_len, batch, output_size)");
  a.O = y.size(2);
  TORCH_CHECK(a.O > 0, op, ": expected y to have output_size > 0, but got shape ", shape_str(y.sizes()));
  check_like(weight_hh, x, op, "weight_hh", "x");
  TORCH_CHECK(weight_hh.dim() == 2 && weight_hh.size(0) == weight_hh.size(1) && weight_hh.size(0) > 0, op,
              ": expected weight_hh to be a square 2-D (hidden_size, hidden_size) tensor, but got shape ",
              shape_str(weight_hh.sizes()));
  a.n = weight_hh.size(0);
  check_state(op, weight_hh, x, {a.n, a.n}, "weight_hh", "(hidden_size, hidden_size)");
  check_state(op, weight_ih, x, {a.n, a.I}, "weight_ih", "(hidden_size, input_size)");
  check_state(op, bias, x, {a.n}, "bias", "(hidden_size,)");
  check_state(op, weight_out, x, {a.O, a.n}, "weight_out", "(output_size, hidden_size)");
  check_state(op, bias_out, x, {a.O}, "bias_out", "(output_size,)");
  check_state(op, hidden, x, {a.B, a.n}, "hidden", "(batch, hidden_size)");
  if (feedback.has_value()) {
    check_like(*feedback, x, op, "feedback", "x");
    check_shape(*feedback, {a.O, a.n}, op, "feedback", "(output_size, hidden_size)");
  }
  check_rate(alpha, op, "alpha");
  TORCH_CHECK(lr >= 0.0 && std::isfinite(lr), op, ": expected lr to be a finite number >= 0, but got ", lr);
  TORCH_CHECK(l2 >= 0.0 && std::isfinite(l2), op, ": expected l2 to be a finite number >= 0, but got ", l2);
  a.l2 = l2;
  return a;
}

}  // namespace torch_local_rnn
