// The plans of the two sequence forms every backend runs with one pointwise kernel of its own: exact BPTT
// and RFLO's GEMM form (docs/algorithms.md §1, §3.6; docs/design.md §3.3 (d)). The GEMMs, buffers and the
// gradients from the per-step credit are here, once; cpu/ and cuda/ supply only the elementwise pass.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>

#include <vector>

#include "sequence_rule.h"
#include "weight_grads.h"

namespace torch_local_rnn {

// Exact BPTT given g_t = dL/da_t:
//   delta_t = g_t + J_{t+1}^T delta_{t+1},  J_{t+1}^T v = (1 - alpha) v + W_hh^T (alpha phi'(h_{t+1}) (.) v),
//   C_t = alpha phi'(h_t) (.) delta_t,      weight gradients from C (common/weight_grads.h).
// Per step one GEMM C_{t+1} W_hh into a preallocated buffer and the backend's fused pass
// step(t, credit_t, delta, recurrent, carry): delta <- g_t + carry delta + recurrent, credit_t <- alpha
// phi'(h_t) delta (carry = 1 - alpha, 0 at the last step: delta_T = 0). J is never formed.
// The gradients from BPTT's credit C (T, B, n) and delta_1 (B, n), however the recursion ran (the stepwise plan
// below or a backend's persistent kernel): dL/da_0 = J_1^T delta_1 = (1 - alpha) delta_1 + C_1 W_hh (0-based:
// delta[0], credit[0]).
inline BackwardResult bptt_result(const SequenceArgs& a, const at::Tensor& credit, const at::Tensor& delta) {
  at::Tensor grad_h0 = at::addmm(delta, credit[0], a.weight_hh, /*beta=*/1.0 - a.alpha);
  return make_backward_result(weight_grads_from_credit(credit, credit, a.x, a.h0, a.output, a.weight_ih), grad_h0);
}

template <typename Step>
BackwardResult bptt_backward(const SequenceArgs& a, Step&& step) {
  const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0);
  at::Tensor credit = at::empty({T, B, n}, a.x.options());
  // Zeroed although the last step multiplies it by 0: 0 * garbage (recycled memory) may be NaN.
  at::Tensor delta = at::zeros({B, n}, a.x.options());
  at::Tensor recurrent = at::zeros({B, n}, a.x.options());  // C_{t+1} W_hh, zero past the last step
  const std::vector<at::Tensor> c = credit.unbind(0);
  for (int64_t t = T - 1; t >= 0; --t) {
    if (t < T - 1) at::mm_out(recurrent, c[t + 1], a.weight_hh);
    step(t, c[t], delta, recurrent, t < T - 1 ? 1.0 - a.alpha : 0.0);
  }
  return bptt_result(a, credit, delta);
}

// RFLO (and e-prop: k = alpha) over the window with frozen weights. The trace
// B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T (B_0 = 0) and the estimate sum_t diag(g_t) B_t exchange sums
// into Lbar_t = g_t + (1 - k) Lbar_{t+1}, C_t = k phi'(h_t) (.) Lbar_t, so no (B, n, m) trace is ever
// held: the backend's reverse-time filter(credit, input_credit, k) writes C_t and the one-step input
// credit X_t = alpha phi'(h_t) (.) g_t, and the shared GEMMs do the rest; dL/da_0 = (1 - alpha) g_1 + X_1 W_hh.
template <typename Filter>
BackwardResult rflo_backward(const SequenceArgs& a, Filter&& filter) {
  const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0);
  at::Tensor credit = at::empty({T, B, n}, a.x.options());
  at::Tensor input_credit = at::empty({T, B, n}, a.x.options());
  filter(credit, input_credit, std::get<RfloOptions>(a.options).trace_alpha);
  at::Tensor grad_h0 = at::addmm(a.grad_output[0], input_credit[0], a.weight_hh, /*beta=*/1.0 - a.alpha);
  return make_backward_result(weight_grads_from_credit(credit, input_credit, a.x, a.h0, a.output, a.weight_ih),
                              grad_h0);
}

}  // namespace torch_local_rnn
