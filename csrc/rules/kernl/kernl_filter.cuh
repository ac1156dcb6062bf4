// KeRNL's sequence form (docs/algorithms.md §3.7) with A and alpha~ frozen: the reverse-time filter
//   c~_t = A^T g_t + k (.) c~_{t+1},   k from alpha~ by the version (rules/kernl/kernl_variant.h),
// applied in place to credit = A^T g_t (computed for every row at once by one GEMM). Every (b, i) filters
// on its own (kernl_reverse_filter, shared with the CPU), so one thread owns one of the B*n rows and walks
// time backwards: a single launch of the whole grid for the window, coalesced at every t.
#pragma once

#include "../../kernels/common.cuh"
#include "kernl_step.h"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct KernlFilterParams {
  T* credit;        // (steps, count): A^T g_t on entry, c~_t on exit
  const T* kernel;  // (n): k of every unit (rules/kernl/kernl.h, kernl_kernel_tensor)
  int64_t steps;    // T
  int64_t count;    // B * n
  int64_t n;        // hidden units: the unit of row r is r % n
};

template <typename T>
__global__ void kernl_filter_kernel(KernlFilterParams<T> p) {
  TLR_GRID_LOOP(r, p.count) kernl_reverse_filter(p.credit + r, p.steps, p.count, p.kernel[r % p.n]);
}

template <typename T>
void launch_kernl_filter(const KernlFilterParams<T>& p, cudaStream_t stream) {
  kernl_filter_kernel<T><<<grid_size(p.count), kThreads, 0, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
