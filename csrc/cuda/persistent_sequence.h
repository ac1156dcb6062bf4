// ATen glue of the persistent sequence kernel (kernels/sequence_persistent.cuh, docs/design.md §3.6), shared by
// the forward (cuda/leaky_rnn_forward_cuda.cu) and exact BPTT (rules/bptt/bptt_backward_cuda.cu): the path and
// exchange switches, the plan, the zeroed flags where the plan exchanges through them, and the launch.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>

#include "../common/gpu_paths.h"
#include "../kernels/sequence_persistent_plan.cuh"

namespace torch_local_rnn {

// Runs the recurrence of `cell` over `steps` steps with the persistent kernel (matrix = W_hh, used transposed
// when `transpose`), exchanging a step's outputs as `exchange` allows (TLR_CUDA_SEQUENCE_EXCHANGE). Returns null
// when it ran, else why not (the switch says stepwise, or the sizes do not fit): then the caller runs its stepwise
// path. It throws nothing itself (it runs inside the dtype dispatch); the caller's persistent_ran
// (common/gpu_paths.h) gives the error where TLR_CUDA_SEQUENCE=persistent asked for it.
template <typename T, typename Cell>
const char* run_persistent_sequence(SequencePath path, SequenceExchange exchange, const at::Tensor& matrix,
                                    bool transpose, int64_t B, int64_t steps, const Cell& cell, T* last,
                                    cudaStream_t stream) {
  if (path == SequencePath::Stepwise) return "TLR_CUDA_SEQUENCE=stepwise";
  const int64_t n = matrix.size(0);
  kernels::ExchangeChoice choice;
  choice.cluster = exchange != SequenceExchange::Flags;
  choice.flags = exchange != SequenceExchange::Cluster;
  const kernels::PersistentPlan plan = kernels::plan_persistent<T, Cell>(n, B, steps, choice);
  if (!plan.fits) return plan.why;
  at::Tensor flags;
  if (!plan.cluster) {
    flags = at::zeros({static_cast<int64_t>(plan.row_blocks) * plan.stream_blocks * kernels::kFlagStride},
                      matrix.options().dtype(at::kInt));
  }
  kernels::PersistentParams<T, Cell> p{matrix.data_ptr<T>(), transpose, static_cast<int>(n), static_cast<int>(B),
                                       static_cast<int>(steps),
                                       plan.cluster ? nullptr : reinterpret_cast<unsigned*>(flags.data_ptr<int>()),
                                       last, cell, plan};
  C10_CUDA_CHECK(kernels::launch_persistent(p, stream));
  return nullptr;
}

}  // namespace torch_local_rnn
