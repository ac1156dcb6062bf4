// Per-step pointwise part of the leaky-RNN forward (docs/algorithms.md §1). The glue has already
// accumulated the pre-activation h_t = W_ih x_t + b + W_hh a_{t-1} into the state slot with
// cuBLAS (haste's per-step GEMM + fused pointwise recipe, docs/design.md §3.2); this kernel
// finishes the step in place:
//   a_t = (1 - alpha) a_{t-1} + alpha phi(h_t),   dphi_t = phi'(h_t).
#pragma once

#include "../common/activation.h"
#include "common.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct LeakyStepParams {
  T* state;       // (count): h_t on entry, a_t on exit
  T* dphi;        // (count): phi'(h_t)
  const T* prev;  // (count): a_{t-1}
  int64_t count;  // B * n
  T alpha;
  Nonlinearity f;
};

template <typename T>
__global__ void leaky_step_kernel(LeakyStepParams<T> p) {
  TLR_GRID_LOOP(k, p.count) { leaky_unit(p.f, p.alpha, p.prev[k], p.state[k], p.state[k], p.dphi[k]); }
}

template <typename T>
void launch_leaky_step(const LeakyStepParams<T>& p, cudaStream_t stream) {
  leaky_step_kernel<T><<<grid_size(p.count), kThreads, 0, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
