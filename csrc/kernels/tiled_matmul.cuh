// C = A B (row-major, C aliasing neither) by whole blocks of the grid, tile by tile: GridExec's matmul
// (online_grid_step.cuh) for products big enough to fill tiles, chiefly RTRL's W_hh M (n x n*m per stream,
// docs/algorithms.md §3.2), which at n = 128 is about 3 x 10^8 multiply-adds per stream and step. One thread per
// entry (TeamExec::matmul) re-reads a column of B for every row of C and a row of A for every column; here a
// block stages a 16-deep slab of a 64 x 64 tile's operands in shared memory and each thread keeps a 4 x 4
// block of C in registers, so each operand value read from memory serves 32 multiply-adds.
//
// Every entry of C is still ONE accumulator starting at 0 and adding A[i, k] B[k, j] for k = 0, 1, ... in
// order (a tile's slabs in order, a slab's k in order), exactly TeamExec::matmul's sum: the tiled and the
// plain products give the same bits, so GridExec's results equal BlockExec's.
#pragma once

#include "common.cuh"

namespace torch_local_rnn {
namespace kernels {

constexpr int kTileRows = 64, kTileCols = 64, kTileDepth = 16;
constexpr int kTileThreadRows = 16, kTileThreadCols = 16;  // 256 threads, each 4 x 4 entries of the tile
constexpr int kTileThreads = kTileThreadRows * kTileThreadCols;
constexpr int kTileEntryRows = kTileRows / kTileThreadRows, kTileEntryCols = kTileCols / kTileThreadCols;

// Whether the tiled product runs: a block of kTileThreads threads, and a C at least half a tile each way (a
// narrower C, such as the (n, B) products of common/stream_products.h at a small B, would leave most of each
// tile idle; the plain product spreads it over more threads instead). Uniform over the grid.
__device__ inline bool tiled_matmul_fits(int64_t M, int64_t N) {
  return blockDim.x == kTileThreads && M >= kTileRows / 2 && N >= kTileCols / 2;
}

// The product by blocks blockIdx.x, blockIdx.x + gridDim.x, ... over the tiles of C; every thread of every
// block calls it (the tile loop depends on the block only, so its __syncthreads are reached by the whole
// block). Operands outside A, B are staged as 0 and never multiplied in (the slab's depth stops at K), and
// entries outside C are not stored.
template <typename T>
__device__ void tiled_matmul(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                             int64_t ldc) {
  __shared__ T a_slab[kTileDepth][kTileRows + 1];  // A's tile transposed, padded against bank conflicts
  __shared__ T b_slab[kTileDepth][kTileCols];
  const int tx = static_cast<int>(threadIdx.x) % kTileThreadCols, ty = static_cast<int>(threadIdx.x) / kTileThreadCols;
  const int64_t row_tiles = (M + kTileRows - 1) / kTileRows, col_tiles = (N + kTileCols - 1) / kTileCols;
  for (int64_t tile = blockIdx.x; tile < row_tiles * col_tiles; tile += gridDim.x) {
    const int64_t i0 = (tile / col_tiles) * kTileRows, j0 = (tile % col_tiles) * kTileCols;
    T acc[kTileEntryRows][kTileEntryCols];
#pragma unroll
    for (int r = 0; r < kTileEntryRows; ++r) {
#pragma unroll
      for (int c = 0; c < kTileEntryCols; ++c) acc[r][c] = T(0);
    }
    for (int64_t k0 = 0; k0 < K; k0 += kTileDepth) {
      const int depth = K - k0 < kTileDepth ? static_cast<int>(K - k0) : kTileDepth;
      // consecutive threads on consecutive k of a row of A, and on consecutive columns of B: coalesced
      for (int e = threadIdx.x; e < kTileRows * kTileDepth; e += kTileThreads) {
        const int r = e / kTileDepth, k = e % kTileDepth;
        const int64_t i = i0 + r;
        a_slab[k][r] = i < M && k < depth ? A[i * lda + k0 + k] : T(0);
      }
      for (int e = threadIdx.x; e < kTileDepth * kTileCols; e += kTileThreads) {
        const int k = e / kTileCols, c = e % kTileCols;
        const int64_t j = j0 + c;
        b_slab[k][c] = j < N && k < depth ? B[(k0 + k) * ldb + j] : T(0);
      }
      __syncthreads();
      for (int k = 0; k < depth; ++k) {
        T a[kTileEntryRows], b[kTileEntryCols];
#pragma unroll
        for (int r = 0; r < kTileEntryRows; ++r) a[r] = a_slab[k][ty + kTileThreadRows * r];
#pragma unroll
        for (int c = 0; c < kTileEntryCols; ++c) b[c] = b_slab[k][tx + kTileThreadCols * c];
#pragma unroll
        for (int r = 0; r < kTileEntryRows; ++r) {
#pragma unroll
          for (int c = 0; c < kTileEntryCols; ++c) acc[r][c] += a[r] * b[c];
        }
      }
      __syncthreads();  // the slabs are refilled next
    }
    // a row of C: 16 consecutive threads on 16 consecutive columns, four times
#pragma unroll
    for (int r = 0; r < kTileEntryRows; ++r) {
      const int64_t i = i0 + ty + kTileThreadRows * r;
#pragma unroll
      for (int c = 0; c < kTileEntryCols; ++c) {
        const int64_t j = j0 + tx + kTileThreadCols * c;
        if (i < M && j < N) C[i * ldc + j] = acc[r][c];
      }
    }
  }
}

}  // namespace kernels
}  // namespace torch_local_rnn
