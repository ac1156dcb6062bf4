// Per-step pointwise part of exact BPTT (docs/algorithms.md §1), run in reverse time after the
// glue's cuBLAS GEMM rec = C_{t+1} W_hh:
//   delta_t = g_t + (1 - alpha) delta_{t+1} + rec,   C_t = alpha phi'(h_t) (.) delta_t,
// i.e. delta_t = g_t + J_{t+1}^T delta_{t+1} without ever forming J.
#pragma once

#include "../../kernels/common.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct BpttStepParams {
  T* delta;            // (count): delta_{t+1} on entry, delta_t on exit
  T* credit;           // (count): C_t
  const T* grad;       // (count): g_t = dL/da_t
  const T* dphi;       // (count): phi'(h_t)
  const T* recurrent;  // (count): C_{t+1} W_hh, zero at the last step
  int64_t count;       // B * n
  T alpha;
  T carry;             // 1 - alpha, or 0 at the last step (delta_T = 0)
};

template <typename T>
__global__ void bptt_step_kernel(BpttStepParams<T> p) {
  TLR_GRID_LOOP(k, p.count) {
    const T d = p.grad[k] + p.carry * p.delta[k] + p.recurrent[k];
    p.delta[k] = d;
    p.credit[k] = p.alpha * p.dphi[k] * d;
  }
}

template <typename T>
void launch_bptt_step(const BpttStepParams<T>& p, cudaStream_t stream) {
  bptt_step_kernel<T><<<grid_size(p.count), kThreads, 0, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
