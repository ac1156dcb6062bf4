// The forward's pre-activations by whole blocks of the grid, tile by tile (common/preactivation_tiles.h): GridExec's
// forward (online_grid_step.cuh) from 32 units on, in the per-element forward's order, so the grid kernel's bits
// stay the one-block kernel's (docs/design.md §3.7).
#pragma once

#include "../common/preactivation_tiles.h"
#include "common.cuh"

namespace torch_local_rnn {
namespace kernels {

// A block as preactivation_tile's team: each thread its own rank and sums.
template <typename T>
struct PreactivationBlockTeam {
  PreactivationAcc<T> acc;
  template <typename F>
  __device__ void each(F&& f) {
    f(static_cast<int>(threadIdx.x), acc);
  }
  __device__ void sync() { __syncthreads(); }
};

// Whether the tiled forward runs (uniform over the grid): blocks of the tile's threads and at least a tile's units.
// Few streams leave most of a tile's threads idle, but still beat the per-element forward: at n = 1024, B = 1 its
// 1,024 threads fill 4 blocks, so 4 SMs do all of the step's 32-line loads, where the tiles spread 32 blocks.
__device__ inline bool tiled_preactivations_fit(int64_t n) {
  return blockDim.x == kPreTileThreads && n >= kPreTileRows;
}

// Tiles blockIdx.x, blockIdx.x + gridDim.x, ...; every thread of every block calls it (the tile loop depends on the
// block only, so its barriers are reached by the whole block). Not inlined: once a step, and inlined into the grid
// kernel it moved ptxas's register allocation of the other phases (RFLO's trace loop: 7 -> 38 spill loads).
template <typename T>
__device__ __noinline__ void tiled_preactivations(const PreactivationBatch<T>& batch) {
  __shared__ PreactivationSlabs<T> slabs;
  PreactivationBlockTeam<T> team;
  const int64_t tiles = preactivation_tiles(batch);
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) preactivation_tile(team, slabs, batch, tile);
}

}  // namespace kernels
}  // namespace torch_local_rnn
