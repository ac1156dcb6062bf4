// GridExec: the online step's execution policy over every thread of a cooperative grid (docs/design.md §3.7),
// for networks whose phases are too wide for one SM (a (B, n, m) trace at n = 1024, RTRL's n x n*m influence
// update). The contract is BlockExec's (online_step.cuh's TeamExec, common/online_step.h): grid-stride loops
// over the global thread index, `sums` one warp per row by global warp index in the same lane-strided and
// xor-shuffle order, and a grid barrier (cooperative groups) between phases, which also makes every write
// before it visible to every thread after it; the kernel must be launched with cudaLaunchCooperativeKernel
// (online_rule_grid.cuh), the only launch that guarantees every block is resident at the barrier.
// The two phases shaped differently are the matrix product (tiled_matmul.cuh) and the forward's pre-activations
// (tiled_preactivations.cuh), tiled with the same per-entry sums, so a result is bitwise BlockExec's.
#pragma once

#include <cooperative_groups.h>

#include "online_step.cuh"
#include "tiled_matmul.cuh"
#include "tiled_preactivations.cuh"

namespace torch_local_rnn {
namespace kernels {

// Every thread of the grid (blockDim.x a multiple of the warp size).
struct GridTeam {
  __device__ static int64_t rank() { return grid_first(); }
  __device__ static int64_t size() { return grid_stride(); }
  __device__ static void sync() { cooperative_groups::this_grid().sync(); }
};

struct GridExec : TeamExec<GridTeam, int64_t> {
  // The forward's pre-activations by tiles where the units fill them (tiled_preactivations.cuh), else false and
  // the per-element forward runs; the same bits either way.
  static constexpr bool kBatchPreactivations = true;
  template <typename T>
  __device__ static bool preactivations(const PreactivationBatch<T>& batch) {
    if (!tiled_preactivations_fit(batch.n)) return false;
    tiled_preactivations(batch);
    return true;
  }
  template <typename T>
  __device__ static void matmul(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
                                T* C, int64_t ldc) {
    if (tiled_matmul_fits(M, N)) {
      tiled_matmul(M, N, K, A, lda, B, ldb, C, ldc);
    } else {
      TeamExec<GridTeam, int64_t>::matmul(M, N, K, A, lda, B, ldb, C, ldc);
    }
  }
};

// GridExec without the per-call options' paths, for the calls without options (as BlockExec32Plain).
struct GridExecPlain : GridExec {
  static constexpr bool kOptionPaths = false;
};

}  // namespace kernels
}  // namespace torch_local_rnn
