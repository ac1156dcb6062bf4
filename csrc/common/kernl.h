// KeRNL's backend-independent parts (algorithms.md §3.7), shared by cpu/kernl_cpu.cpp and
// cuda/kernl_cuda.cu so both backends check the same things and the sequence form runs the
// same ATen ops: only the per-step recursions (the online loop, the reverse-time filter) are
// written per backend.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/mm.h>

#include <cmath>
#include <utility>
#include <vector>

#include "checks.h"
#include "online_rule.h"
#include "rule_options.h"
#include "sequence_rule.h"

namespace torch_local_rnn {

constexpr const char* kKernlStateLayout =
    "[trace (batch, hidden_size, hidden_size + input_size + 1), A (hidden_size, hidden_size), rates (hidden_size), "
    "omega (batch, hidden_size), gamma (batch, hidden_size), zeta (batch, hidden_size), perturbed (batch, "
    "hidden_size), count (1)]";

// What the online form reads besides the network: the options and the standard-normal draws
// (T, B, n) that become zeta = sigma nu at every step, contiguous.
struct KernlOnlineInputs {
  KernlOptions options;
  at::Tensor noise;
};

// Checks the options, the 8 state tensors (layout above) and the noise of one online_learn call.
inline KernlOnlineInputs check_kernl_online(const OnlineCall& c) {
  constexpr const char* op = "online_learn";
  const KernlOptions o = parse_kernl_options(c.options, op);
  check_state_count(c, 8, kKernlStateLayout, "kernl");
  const int64_t T = c.args.T, B = c.args.B, n = c.args.n, I = c.args.I, m = n + I + 1;
  const char* names[] = {"state[0] (kernl trace)", "state[1] (kernl A)", "state[2] (kernl rates)",
                         "state[3] (kernl omega)", "state[4] (kernl gamma)", "state[5] (kernl zeta)",
                         "state[6] (kernl perturbed)", "state[7] (kernl count)"};
  const std::vector<std::vector<int64_t>> shapes = {{B, n, m}, {n, n}, {n}, {B, n}, {B, n}, {B, n}, {B, n}, {1}};
  const char* layouts[] = {"(batch, hidden_size, hidden_size + input_size + 1)", "(hidden_size, hidden_size)",
                           "(hidden_size,)", "(batch, hidden_size)", "(batch, hidden_size)", "(batch, hidden_size)",
                           "(batch, hidden_size)", "(1,)"};
  for (size_t s = 0; s < 8; ++s) check_state(op, c.state[s], c.x, shapes[s], names[s], layouts[s]);
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

// The kernel k of every unit from the rates (common/kernl_variant.h), as a tensor.
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
  const KernlOptions o = parse_kernl_options(a.options, op);
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
