// The GPU's execution policy for the shared online step (common/online_step.h): the threads of ONE
// block share each phase's elements and __syncthreads() orders the phases; the persistent kernel
// (online_rule.cuh) runs the whole time loop in that block. The papers' network (n = 32, B = 1) is a
// few thousand flops per step and every step depends on the weights the previous step wrote, so the
// cost is latency: one launch per sequence and block barriers (~100 ns) beat a kernel launch per phase
// (~3-5 us each) by far, and a single block needs no grid-wide sync. It is correct for any size, but
// it uses one SM, so large B * n * m would want a multi-block streaming kernel (docs/design.md §3.3 (b)).
#pragma once

#include "../common/online_step.h"
#include "common.cuh"

namespace torch_local_rnn {
namespace kernels {

constexpr int kOnlineThreads = 256;

// The per-step activity lives in shared memory when it fits the 48 KiB every launch may
// use without opting in (always at the papers' sizes), else in a global workspace.
constexpr size_t kOnlineSharedBytes = 48 * 1024;

struct BlockExec {
  template <typename F>
  __device__ static void loop(int64_t count, int64_t /*work_per_item*/, F&& f) {
    TLR_BLOCK_LOOP(k, count) f(k);
  }
  template <typename F>
  __device__ static void loop2(int64_t rows, int64_t cols, int64_t /*work_per_item*/, F&& f) {
    TLR_BLOCK_LOOP(k, rows * cols) {
      const int64_t r = k / cols;
      f(r, k - r * cols);
    }
  }
  // One thread per (r, c), k in order inside it (common/online_step.h).
  template <typename F>
  __device__ static void loop_owned(int64_t rows, int64_t inner, int64_t cols, int64_t /*work_per_item*/, F&& f) {
    TLR_BLOCK_LOOP(e, rows * cols) {
      const int64_t r = e / cols, c = e - r * cols;
      for (int64_t k = 0; k < inner; ++k) f(r, k, c);
    }
  }
  // loop_owned over three column blocks: one block loop each (their elements are disjoint).
  template <typename F0, typename F1, typename F2>
  __device__ static void loop_owned3(int64_t rows, int64_t inner, int64_t c0, int64_t c1, int64_t c2,
                                     int64_t work_per_item, F0&& f0, F1&& f1, F2&& f2) {
    loop_owned(rows, inner, c0, work_per_item, f0);
    loop_owned(rows, inner, c1, work_per_item, f1);
    loop_owned(rows, inner, c2, work_per_item, f2);
  }
  // C = A B, row-major: one thread per entry of C, consecutive threads on consecutive columns (coalesced
  // reads of B, a broadcast row of A), the sum over k in order.
  template <typename T>
  __device__ static void matmul(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
                                T* C, int64_t ldc) {
    TLR_BLOCK_LOOP(e, M * N) {
      const int64_t i = e / N, j = e - i * N;
      const T* a = A + i * lda;
      T acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += a[k] * B[k * ldb + j];
      C[i * ldc + j] = acc;
    }
  }
  // out[r] = sum_k f(r, k): one warp per row, lane-strided partial sums, then a fixed xor-shuffle tree,
  // so the order is the same on every run. The warp's lanes loop together (r depends on the warp
  // only), so the full-mask shuffles are safe; every lane gets the sum and lane 0 stores it.
  template <typename T, typename F>
  __device__ static void sums(int64_t rows, int64_t count, F&& f, T* out) {
    constexpr int kWarpSize = 32;
    const int lane = threadIdx.x % kWarpSize;
    const int64_t warps = blockDim.x / kWarpSize;
    for (int64_t r = threadIdx.x / kWarpSize; r < rows; r += warps) {
      T acc = 0;
      for (int64_t k = lane; k < count; k += kWarpSize) acc += f(r, k);
      for (int offset = kWarpSize / 2; offset > 0; offset /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, offset);
      if (lane == 0) out[r] = acc;
    }
  }
  __device__ static void sync() { __syncthreads(); }
};

}  // namespace kernels
}  // namespace torch_local_rnn
