// The state layout, option parsing, argument checks and scratch of online DNI / DNI(b) (docs/algorithms.md
// §3.8, §4), shared by both backends (rules/dni/dni_cpu.cpp, rules/dni/dni_cuda.cu) so they accept exactly the
// same calls, name the same things in their errors and build the same step (rules/dni/dni_step.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <string>
#include <vector>

#include "../../common/carve_scratch.h"
#include "../../common/checks.h"
#include "../../common/online_checks.h"
#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include <variant>

#include "dni_step.h"

namespace torch_local_rnn {

// Indices into the state list.
enum DniState : size_t { kDniA = 0, kDniAFrozen, kDniJacobian, kDniQPrev, kDniLabelPrev, kDniCount, kDniElig };

// What a checked DNI call carries besides the state: the parsed options and the optional credit
// override (T, B, n) that replaces U_t in G (contiguous; undefined when not given).
struct DniCall {
  DniOptions options;
  at::Tensor credit;
};

// The checks of an online DNI call beyond the state's shapes (online_learn checks those against the
// descriptor, csrc/rules/dni/descriptor.cpp): the fix_interval counter, rule_tensors = [] or [credit] and record (T, B, 4, n).
// The counter is read back with item() (on CUDA one small device-to-host copy per call): a
// counter outside [0, fix_interval) would silently skip or repeat a target refresh.
inline DniCall check_dni_call(const OnlineCall& c, const char* rule) {
  constexpr const char* op = "online_learn";
  DniCall d{std::get<DniOptions>(c.options), at::Tensor()};
  const int64_t T = c.args.T, B = c.args.B, n = c.args.n;
  check_counter_range(c.x, d.options.fix_interval, op, (std::string("state[5] (") + rule + " count)").c_str(),
                      "fix_interval");
  const double count = c.state[kDniCount].item<double>();
  TORCH_CHECK(std::isfinite(count) && count >= 0 && count < d.options.fix_interval && count == std::floor(count), op,
              ": expected state[5] (", rule, " count) to hold an integer in [0, fix_interval = ",
              d.options.fix_interval, "), but got ", count);
  TORCH_CHECK(c.tensors.size() <= 1, op, ": rule '", rule,
              "' expects rule_tensors = [] or [credit (seq_len, batch, hidden_size)] (the credit used in place of the "
              "synthetic gradient U_t), but got ", c.tensors.size(), " tensors");
  if (c.tensors.size() == 1) {
    d.credit = rule_tensor(c.tensors, 0, c.x, {T, B, n}, op, "rule_tensors[0] (dni credit)",
                           "(seq_len, batch, hidden_size)");
  }
  if (c.record) check_state(op, *c.record, c.x, {T, B, 4, n}, "record", "(seq_len, batch, 4, hidden_size)");
  return d;
}

// The online step for the policy Exec over the call's state (DniState order), its scratch allocated into
// `work`, which the caller keeps for the call.
template <typename Exec, typename T>
DniStep<Exec, T> make_dni_step(const OnlineCall& c, const DniCall& d, at::Tensor& work) {
  const DniOptions& o = d.options;
  const int64_t B = c.args.B, n = c.args.n, m = n + c.args.I + 1, K = n + c.args.O + 1, Bn = B * n;
  auto p = [&](size_t s) { return c.state[s].data_ptr<T>(); };
  DniStep<Exec, T> r{p(kDniA), p(kDniAFrozen), p(kDniJacobian), p(kDniQPrev), p(kDniLabelPrev), p(kDniCount),
                     p(kDniElig), d.credit.defined() ? d.credit.data_ptr<T>() : nullptr,
                     c.record ? c.record->data_ptr<T>() : nullptr, static_cast<T>(o.lr_sg),
                     static_cast<T>(o.lr_j), static_cast<T>(o.alpha_e), static_cast<T>(o.sg_l2), o.fix_interval,
                     o.approximate_jacobian, o.tanh_target, o.alpha_e > 0 /* decided in double */, o.late_jacobian};
  const auto carve = [&](T* base) {
    return carve_scratch<T>(base, {{&r.in_prev, B * K}, {&r.in_now, B * K}, {&r.u, Bn}, {&r.v, Bn}, {&r.back, Bn},
                                   {&r.target, Bn}, {&r.delta, Bn}, {&r.scratch, Bn}, {&r.row, Bn},
                                   {&r.immediate, Bn}, {&r.ahat, B * m}, {&r.grad_A, n * K}, {&r.grad_J, n * n},
                                   {&r.G, n * m}, {&r.in_prev_t, K * B}, {&r.in_now_t, K * B}, {&r.prod_a, Bn},
                                   {&r.prod_b, Bn}, {&r.prod_c, Bn}});
  };
  work = at::empty({carve(nullptr)}, c.x.options());
  carve(work.data_ptr<T>());
  r.rec_grad = rec_grad_ptr<T>(c);
  return r;
}

}  // namespace torch_local_rnn
