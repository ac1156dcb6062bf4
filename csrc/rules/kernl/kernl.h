// KeRNL's backend-independent parts (docs/algorithms.md §3.7), shared by rules/kernl/kernl_cpu.cpp and
// rules/kernl/kernl_cuda.cu so both backends check the same things, build the same online step
// (rules/kernl/kernl_step.h) and run the same sequence form: whole-sequence tensor math (one GEMM for
// every A^T g_t, then the shared GEMMs of result_from_credit), not a per-step loop; only the launch of
// the reverse-time filter between them is per backend.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>

#include <cmath>
#include <utility>
#include <vector>

#include "../../common/checks.h"
#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include <variant>
#include "../../common/sequence_rule.h"
#include "../../common/carve_scratch.h"
#include "kernl_step.h"

namespace torch_local_rnn {

// What the online form reads besides the network: the options and the standard-normal draws
// (T, B, n) that become zeta = sigma nu at every step, contiguous.
struct KernlOnlineInputs {
  KernlOptions options;
  at::Tensor noise;
};

// Checks the reset counter (the state's shapes are checked by online_learn against the descriptor,
// csrc/rules/kernl/descriptor.cpp) and the noise of one online_learn call.
inline KernlOnlineInputs check_kernl_online(const OnlineCall& c) {
  constexpr const char* op = "online_learn";
  const KernlOptions& o = std::get<KernlOptions>(c.options);
  const int64_t T = c.args.T, B = c.args.B, n = c.args.n;
  check_counter_range(c.x, o.reset_interval, op, "state[7] (kernl count)", "reset_interval");
  const double count = c.state[7].item<double>();
  TORCH_CHECK(std::isfinite(count) && count >= 0 && count == std::floor(count) &&
                  (o.reset_interval == 0 || count < o.reset_interval),
              op, ": expected state[7] (kernl count) to hold an integer in [0, reset_interval = ", o.reset_interval,
              ") (any integer >= 0 when reset_interval is 0), but got ", count);
  check_rule_tensor_count(c.tensors, 1, op, "kernl", "[noise (seq_len, batch, hidden_size)]");
  at::Tensor noise = rule_tensor(c.tensors, 0, c.x, {T, B, n}, op, "rule_tensors[0] (kernl noise)",
                                 "(seq_len, batch, hidden_size)");
  return {o, std::move(noise)};
}

// The online step for the policy Exec over the call's state (the descriptor's order), its scratch allocated
// into `work`, which the caller keeps for the call.
template <typename Exec, typename T>
KernlStep<Exec, T> make_kernl_step(const OnlineCall& c, const KernlOnlineInputs& in, at::Tensor& work) {
  const KernlOptions& o = in.options;
  const int64_t B = c.args.B, n = c.args.n, m = n + c.args.I + 1, Bn = B * n;
  auto p = [&](size_t s) { return c.state[s].data_ptr<T>(); };
  KernlStep<Exec, T> s{p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), in.noise.data_ptr<T>(),
                       static_cast<T>(o.sigma), static_cast<T>(o.lr), o.version, o.learned_alpha_e,
                       o.reset_interval};
  const auto carve = [&](T* base) {
    return carve_scratch<T>(base, {{&s.k, n}, {&s.moved, Bn}, {&s.eps, Bn}, {&s.weps, Bn}, {&s.imm, Bn},
                                   {&s.ate, Bn}, {&s.aq, Bn}, {&s.grad_A, n * n}, {&s.ahat, B * m}, {&s.G, n * m},
                                   {&s.moved_t, Bn}, {&s.x_t, B * c.args.I}, {&s.prod_t, Bn}, {&s.in_t, Bn},
                                   {&s.omega_t, Bn}});
  };
  work = at::empty({carve(nullptr)}, c.x.options());
  carve(work.data_ptr<T>());
  s.rec_grad = rec_grad_ptr<T>(c);
  return s;
}

// The kernel k of every unit from the rates (rules/kernl/kernl_variant.h), as a tensor.
inline at::Tensor kernl_kernel_tensor(KernlVersion v, const at::Tensor& rates) {
  return v == KernlVersion::V2019Exact ? rates.neg().exp() : rates.neg().add(1.0).clamp_min(0.0);
}

// The sequence form with A and alpha~ frozen (rule_tensors = [A, rates]): c~_t = A^T g_t for
// every row at once, then reverse_filter(credit (T, B, n), k (n)) turns it in place into
// c~_t = A^T g_t + k (.) c~_{t+1} (the backend's own loop), and
// G = sum_t (alpha phi'(h_t) (.) c~_t) ahat_t^T comes from the shared GEMMs (learned_alpha_e: 1 - k
// in place of alpha).
template <typename ReverseFilter>
BackwardResult kernl_backward(const SequenceArgs& a, ReverseFilter&& reverse_filter) {
  constexpr const char* op = "leaky_rnn_rule_backward";
  const KernlOptions& o = std::get<KernlOptions>(a.options);
  const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0);
  check_rule_tensor_count(a.tensors, 2, op, "kernl", "[A (hidden_size, hidden_size), rates (hidden_size)]");
  const at::Tensor A = rule_tensor(a.tensors, 0, a.x, {n, n}, op, "rule_tensors[0] (kernl A)",
                                   "(hidden_size, hidden_size)");
  const at::Tensor rates = rule_tensor(a.tensors, 1, a.x, {n}, op, "rule_tensors[1] (kernl rates)", "(hidden_size,)");
  at::Tensor credit = at::mm(a.grad_output.reshape({T * B, n}), A).view({T, B, n});
  const at::Tensor k = kernl_kernel_tensor(o.version, rates);
  reverse_filter(credit, k);
  if (o.learned_alpha_e) return result_from_credit(a, a.dphi.mul(k.neg().add(1.0)).mul(credit));
  // (alpha phi') (.) c~, the order the CPU's `alpha * dphi * credit` always had.
  return result_from_credit(a, a.dphi.mul(a.alpha).mul(credit));
}

}  // namespace torch_local_rnn
