// ATen glue of the persistent sequence kernels (kernels/sequence_warp.cuh, kernels/sequence_persistent.cuh,
// docs/design.md §3.6), shared by the forward (cuda/leaky_rnn_forward_cuda.cu) and exact BPTT
// (rules/bptt/bptt_backward_cuda.cu): the path and kernel switches, the warp kernel or the tiled kernel's plan,
// the zeroed flags where the plan exchanges through them, and the launch.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>

#include "../common/gpu_paths.h"
#include "../kernels/sequence_persistent_plan.cuh"
#include "../kernels/sequence_warp.cuh"

namespace torch_local_rnn {

// Runs the recurrence of `cell` over `steps` steps with a persistent kernel (matrix = W_hh, used transposed when
// `transpose`), the one `kernel` names (TLR_CUDA_PERSISTENT; auto: a warp per stream where it fits, else the tiled
// kernel with the exchange its planner picks). Returns null when it ran, else why not (the switch says stepwise,
// or the sizes do not fit): then the caller runs its stepwise path. It throws nothing itself (it runs inside the
// dtype dispatch); the caller's persistent_ran (common/gpu_paths.h) gives the error where
// TLR_CUDA_SEQUENCE=persistent asked for it.
template <typename T, typename Cell>
const char* run_persistent_sequence(SequencePath path, PersistentKernel kernel, const at::Tensor& matrix,
                                    bool transpose, int64_t B, int64_t steps, const Cell& cell, T* last,
                                    cudaStream_t stream) {
  if (path == SequencePath::Stepwise) return "TLR_CUDA_SEQUENCE=stepwise";
  const int64_t n = matrix.size(0);
  if (kernel == PersistentKernel::Auto || kernel == PersistentKernel::Warp) {
    const char* const warp_why_not = kernels::warp_sequence_why_not(n, B, steps);
    if (warp_why_not == nullptr) {
      const WarpSequenceParams<T, Cell> p{matrix.data_ptr<T>(), transpose, static_cast<int>(n), static_cast<int>(B),
                                          static_cast<int>(steps), last, cell};
      C10_CUDA_CHECK(kernels::launch_warp_sequence(p, stream));
      return nullptr;
    }
    if (kernel == PersistentKernel::Warp) return warp_why_not;
  }
  kernels::ExchangeChoice choice;
  choice.cluster = kernel != PersistentKernel::Flags;
  choice.flags = kernel != PersistentKernel::Cluster;
  const PersistentPlan plan = kernels::plan_persistent<T, Cell>(n, B, steps, choice);
  if (!plan.fits) return plan.why;
  at::Tensor flags;
  if (!plan.cluster) {
    flags = at::zeros({static_cast<int64_t>(plan.row_blocks) * plan.stream_blocks * kFlagStride},
                      matrix.options().dtype(at::kInt));
  }
  PersistentParams<T, Cell> p{matrix.data_ptr<T>(), transpose, static_cast<int>(n), static_cast<int>(B),
                              static_cast<int>(steps),
                              plan.cluster ? nullptr : reinterpret_cast<unsigned*>(flags.data_ptr<int>()),
                              last, cell, plan};
  C10_CUDA_CHECK(kernels::launch_persistent(p, stream));
  return nullptr;
}

}  // namespace torch_local_rnn
