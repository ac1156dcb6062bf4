// ATen glue of the persistent sequence kernel (kernels/sequence_persistent.cuh, docs/design.md §3.6), shared by
// the forward (cuda/leaky_rnn_forward_cuda.cu) and exact BPTT (rules/bptt/bptt_backward_cuda.cu): the path
// switch, the plan, the zeroed flags and the cooperative launch.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>

#include "../kernels/sequence_persistent.cuh"

namespace torch_local_rnn {

// TLR_CUDA_SEQUENCE: auto (unset; persistent where it fits, else stepwise), persistent (an error where it does
// not fit) or stepwise (a GEMM and a pointwise launch per step). Read per call: the tests switch it.
enum class SequencePath { Auto, Persistent, Stepwise };

inline SequencePath sequence_path(const char* op) {
  const char* const mode = std::getenv("TLR_CUDA_SEQUENCE");
  if (mode == nullptr || *mode == '\0' || std::strcmp(mode, "auto") == 0) return SequencePath::Auto;
  if (std::strcmp(mode, "persistent") == 0) return SequencePath::Persistent;
  if (std::strcmp(mode, "stepwise") == 0) return SequencePath::Stepwise;
  TORCH_CHECK(false, op, ": expected the environment variable TLR_CUDA_SEQUENCE to be 'auto', 'persistent' or ",
              "'stepwise', but got '", mode, "'");
}

// Runs the recurrence of `cell` over `steps` steps with the persistent kernel (matrix = W_hh, used transposed
// when `transpose`). Returns null when it ran, else why not (the switch says stepwise, or the sizes do not fit):
// then the caller runs its stepwise path. It throws nothing itself (it runs inside the dtype dispatch); the
// caller's persistent_ran gives the error where TLR_CUDA_SEQUENCE=persistent asked for it.
template <typename T, typename Cell>
const char* run_persistent_sequence(SequencePath path, const at::Tensor& matrix, bool transpose, int64_t B,
                                    int64_t steps, const Cell& cell, T* last, cudaStream_t stream) {
  if (path == SequencePath::Stepwise) return "TLR_CUDA_SEQUENCE=stepwise";
  const int64_t n = matrix.size(0);
  const kernels::PersistentPlan plan = kernels::plan_persistent<T, Cell>(n, B, steps);
  if (!plan.fits) return plan.why;
  const at::Tensor flags = at::zeros({static_cast<int64_t>(plan.row_blocks) * plan.stream_blocks * kernels::kFlagStride},
                                     matrix.options().dtype(at::kInt));
  kernels::PersistentParams<T, Cell> p{matrix.data_ptr<T>(), transpose, static_cast<int>(n), static_cast<int>(B),
                                       static_cast<int>(steps), reinterpret_cast<unsigned*>(flags.data_ptr<int>()),
                                       last, cell, plan};
  C10_CUDA_CHECK(kernels::launch_persistent(p, stream));
  return nullptr;
}

// Whether the persistent kernel ran (why_not is null); an error naming the sizes where TLR_CUDA_SEQUENCE=persistent
// asked for it and it could not run.
inline bool persistent_ran(const char* op, SequencePath path, const char* why_not, int64_t n, int64_t B,
                           int64_t steps) {
  TORCH_CHECK(why_not == nullptr || path != SequencePath::Persistent, op, ": TLR_CUDA_SEQUENCE=persistent, but the ",
              "persistent kernel cannot run hidden_size = ", n, ", batch = ", B, ", seq_len = ", steps, ": ", why_not,
              "; unset TLR_CUDA_SEQUENCE to fall back to the stepwise path");
  return why_not == nullptr;
}

}  // namespace torch_local_rnn
