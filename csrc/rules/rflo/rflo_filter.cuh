// RFLO over a window in GEMM form (docs/algorithms.md §3.6, docs/design.md §3.3 (d)): the trace
// B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T never exists; its effect on sum_t diag(g_t) B_t
// is the reverse-time filter
//   Lbar_t = g_t + (1 - k) Lbar_{t+1},   C_t = k phi'(h_t) (.) Lbar_t,
// and the one-step input credit X_t = alpha phi'(h_t) (.) g_t. Every (b, i) filters on its own,
// so one thread owns one of the B*n scalars and walks time backwards with Lbar in a register:
// a single launch for the whole window, coalesced across threads at every t.
#pragma once

#include "../../kernels/common.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct RfloFilterParams {
  T* credit;        // (steps, count): C_t
  T* input_credit;  // (steps, count): X_t
  const T* grad;    // (steps, count): g_t = dL/da_t
  const T* dphi;    // (steps, count): phi'(h_t)
  int64_t steps;    // T
  int64_t count;    // B * n
  T alpha;          // network rate (input credit)
  T rate;           // k = trace_alpha
};

template <typename T>
__global__ void rflo_filter_kernel(RfloFilterParams<T> p) {
  const T decay = T(1) - p.rate;
  TLR_GRID_LOOP(e, p.count) {
    T lbar = 0;
    for (int64_t t = p.steps - 1; t >= 0; --t) {
      const int64_t o = t * p.count + e;
      const T g = p.grad[o], d = p.dphi[o];
      lbar = g + decay * lbar;
      p.credit[o] = p.rate * d * lbar;
      p.input_credit[o] = p.alpha * d * g;
    }
  }
}

template <typename T>
void launch_rflo_filter(const RfloFilterParams<T>& p, cudaStream_t stream) {
  rflo_filter_kernel<T><<<grid_size(p.count), kThreads, 0, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
