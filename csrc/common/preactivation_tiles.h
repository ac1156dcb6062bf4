// The forward's pre-activations of a whole batch, h[b, i] = b_i + W_hh[i, :] a_b + W_ih[i, :] x_b, by tiles of
// units x streams, in exactly the order the per-element forward sums them (common/dot.h's preactivation<true>:
// dot_rotated for row i), so the tiled and the per-element forward give the same bits. The GPU's grid policy runs
// it (kernels/tiled_preactivations.cuh, docs/design.md §3.7): one thread per (b, i) reading row i of W_hh from
// global memory puts the 32 lanes of a warp on 32 rows, 32 cache lines per load, and re-reads W_hh for every
// stream: B n^2 such loads a step, an estimated ~0.3 ms (L1 serves such a load as 32 wavefronts) of the 1.13 ms
// step measured at n = 1024, B = 64 on an H200. Here a block stages a slab of W's rows and of the streams' vectors
// in shared memory with coalesced loads, and each value staged serves up to 16 streams or 32 units.
//
// Host and device: the phases (stage, accumulate, finish) are functions of a thread's rank, run by the team that
// `preactivation_tile`'s Team names: a CUDA block (each thread its own rank, __syncthreads between phases) or the
// C++ tests' emulation (every rank in turn), so the schedule the GPU runs is tested where there is no GPU.
//
// The order kept: dot_rotated(row i) visits W's blocks of 8 columns from block (i / 8) mod (K / 8) on, cyclically,
// partial sum u taking column (u + i) mod 8 of each block. A tile's 32 units are 4 groups of 8 with 4 consecutive
// first blocks, so the tile walks blocks + 3 steps from its first group's first block and group g takes steps
// g .. g + blocks - 1: its own cyclic order. The slab holds row i's columns already permuted (partial sum u reads
// slab column u), the streams' vectors as they are (read at column (u + i) mod 8: the warp's 32 lanes read 8
// words of one block, a broadcast).
#pragma once

#include <cstdint>

#include "activation.h"
#include "dot.h"
#include "preactivation_batch.h"

namespace torch_local_rnn {

constexpr int kPreTileRows = 32;                                       // units of a tile: a lane each
constexpr int kPreTileWarps = 8;                                       // 256 threads
constexpr int kPreTileThreads = kPreTileRows * kPreTileWarps;
constexpr int kPreStreamsPerThread = 2;                                // warp w: streams w and w + 8
constexpr int kPreTileStreams = kPreTileWarps * kPreStreamsPerThread;  // 16
constexpr int kPreRowGroups = kPreTileRows / 8;                        // groups of 8 units with one first block
constexpr int kPreSlabBlocks = 4;                                      // blocks of 8 columns staged at once
constexpr int kPreSlabCols = 8 * kPreSlabBlocks;

// A block's shared memory (the emulation's one array). A row of w is padded by one so that the 32 lanes, one row
// each, read 32 different banks.
template <typename T>
struct PreactivationSlabs {
  T w[kPreTileRows][kPreSlabCols + 1];
  T v[kPreTileStreams][kPreSlabCols];
};

// One thread's sums: dot_rotated's eight partial sums for each of its streams, and the pre-activation so far.
template <typename T>
struct PreactivationAcc {
  T s[kPreStreamsPerThread][8];
  T sum[kPreStreamsPerThread];
};

// The batch's tiles: rows of tiles over the units, one per 16 streams.
template <typename T>
TLR_HOST_DEVICE int64_t preactivation_row_tiles(const PreactivationBatch<T>& a) {
  return (a.n + kPreTileRows - 1) / kPreTileRows;
}
template <typename T>
TLR_HOST_DEVICE int64_t preactivation_tiles(const PreactivationBatch<T>& a) {
  return preactivation_row_tiles(a) * ((a.B + kPreTileStreams - 1) / kPreTileStreams);
}

// A thread's place in its tile: lane r is unit i0 + r, warp w takes the streams in slots w + 8j (j <
// kPreStreamsPerThread), b0 + slot.
struct PreTileThread {
  int r, warp;
  int64_t i, b0;
  TLR_HOST_DEVICE PreTileThread(int rank, int64_t i0, int64_t b0_)
      : r(rank % kPreTileRows), warp(rank / kPreTileRows), i(i0 + r), b0(b0_) {}
  TLR_HOST_DEVICE int slot(int j) const { return warp + kPreTileWarps * j; }
  TLR_HOST_DEVICE int64_t stream(int j) const { return b0 + slot(j); }
};

// One product of a tile, W (n x K, row-major) against the streams' vectors V (B x K): its blocks of 8 columns,
// the tile's steps over them, and the block at step 0.
template <typename T>
struct RotatedProduct {
  const T *W, *V;
  int64_t K, blocks, steps, first;
  TLR_HOST_DEVICE RotatedProduct(const T* W_, const T* V_, int64_t K_, int64_t i0)
      : W(W_), V(V_), K(K_), blocks(K_ / 8), steps(blocks > 0 ? blocks + kPreRowGroups - 1 : 0),
        first(blocks > 0 ? (i0 / 8) % blocks : 0) {}
  TLR_HOST_DEVICE int64_t block_at(int64_t step) const { return (first + step) % blocks; }
};

// Stages the slab of steps s0 .. s0 + kPreSlabBlocks - 1: consecutive ranks on consecutive columns of a row
// (coalesced; a rank keeps its column, so its block is computed once); rows and streams outside W and V are
// staged as 0 and never summed.
template <typename T>
TLR_HOST_DEVICE void stage_preactivation_slab(int rank, PreactivationSlabs<T>& slabs, const RotatedProduct<T>& p,
                                              int64_t n, int64_t B, int64_t i0, int64_t b0, int64_t s0) {
  static_assert(kPreTileThreads % kPreSlabCols == 0, "a rank stages one column of the slab");
  const int col = rank % kPreSlabCols, slab_block = col / 8, q = col % 8;
  const int64_t step = s0 + slab_block;
  if (step >= p.steps) return;  // past the product: never summed
  const int64_t column = 8 * p.block_at(step) + q;
  for (int r = rank / kPreSlabCols; r < kPreTileRows; r += kPreTileThreads / kPreSlabCols) {
    const int64_t i = i0 + r;
    // column q of the block is partial sum u = (q - i) mod 8's (dot_rotated: u takes column (u + i) mod 8)
    slabs.w[r][8 * slab_block + ((q + 8 - int(i & 7)) & 7)] = i < n ? p.W[i * p.K + column] : T(0);
  }
  for (int sb = rank / kPreSlabCols; sb < kPreTileStreams; sb += kPreTileThreads / kPreSlabCols) {
    const int64_t b = b0 + sb;
    slabs.v[sb][col] = b < B ? p.V[b * p.K + column] : T(0);
  }
}

// Adds the slab's blocks into the thread's partial sums: lane r is unit i0 + r, warp w streams b0 + w + 8j; row
// group g = r / 8 takes only its steps g .. g + blocks - 1.
template <typename T>
TLR_HOST_DEVICE void accumulate_preactivation_slab(int rank, const PreactivationSlabs<T>& slabs,
                                                   const RotatedProduct<T>& p, int64_t n, int64_t B, int64_t i0,
                                                   int64_t b0, int64_t s0, PreactivationAcc<T>& acc) {
  const PreTileThread t(rank, i0, b0);
  const int g = t.r / 8;
  if (t.i >= n) return;
  const int shift = int(t.i & 7);
  for (int slab_block = 0; slab_block < kPreSlabBlocks; ++slab_block) {
    const int64_t step = s0 + slab_block;
    if (step < g || step >= g + p.blocks || step >= p.steps) continue;
    T w[8];  // read once for both streams (the compiler re-read the slab for each)
    for (int u = 0; u < 8; ++u) w[u] = slabs.w[t.r][8 * slab_block + u];
    for (int j = 0; j < kPreStreamsPerThread; ++j) {
      if (t.stream(j) >= B) continue;
      const T* v = slabs.v[t.slot(j)] + 8 * slab_block;
      for (int u = 0; u < 8; ++u) acc.s[j][u] += w[u] * v[(u + shift) & 7];
    }
  }
}

// The product's total for each of the thread's (b, i): the partial sums and dot_rotated's tail (the last K mod 8
// columns in order, read from global memory), summed in eight_sums_total's order; `first` (W_hh) starts the
// pre-activation from the bias, the next product (W_ih) adds to it: b_i + dot_hh + dot_ih, as preactivation<true>.
template <typename T>
TLR_HOST_DEVICE void finish_preactivation_product(int rank, const RotatedProduct<T>& p, const T* bias, int64_t n,
                                                  int64_t B, int64_t i0, int64_t b0, bool first,
                                                  PreactivationAcc<T>& acc) {
  const PreTileThread t(rank, i0, b0);
  const int64_t i = t.i;
  if (i >= n) return;
  for (int j = 0; j < kPreStreamsPerThread; ++j) {
    const int64_t b = t.stream(j);
    if (b >= B) continue;
    T tail = 0;
    for (int64_t k = 8 * p.blocks; k < p.K; ++k) tail += p.W[i * p.K + k] * p.V[b * p.K + k];
    const T total = eight_sums_total(acc.s[j], tail);
    acc.sum[j] = first ? bias[i] + total : acc.sum[j] + total;
    for (int u = 0; u < 8; ++u) acc.s[j][u] = T(0);
  }
}

// The partial sums start at zero; `sum` needs no start: the first product sets it (bias + W_hh's total).
template <typename T>
TLR_HOST_DEVICE void clear_preactivation_acc(PreactivationAcc<T>& acc) {
  for (int j = 0; j < kPreStreamsPerThread; ++j) {
    for (int u = 0; u < 8; ++u) acc.s[j][u] = T(0);
  }
}

template <typename T>
TLR_HOST_DEVICE void store_preactivations(int rank, const PreactivationBatch<T>& a, int64_t i0, int64_t b0,
                                          const PreactivationAcc<T>& acc) {
  const PreTileThread t(rank, i0, b0);
  if (t.i >= a.n) return;
  for (int j = 0; j < kPreStreamsPerThread; ++j) {
    if (t.stream(j) < a.B) a.out[t.stream(j) * a.n + t.i] = acc.sum[j];
  }
}

// Tile `tile` (units (tile mod row_tiles) * 32 .., streams (tile / row_tiles) * 16 ..) by the team: team.each(f)
// runs f(rank, acc) for each of its threads (rank < kPreTileThreads, acc that thread's), team.sync() is the
// barrier between phases that share `slabs`. Every thread of the team calls it with the same tile.
template <typename Team, typename T>
TLR_HOST_DEVICE void preactivation_tile(Team& team, PreactivationSlabs<T>& slabs, const PreactivationBatch<T>& a,
                                        int64_t tile) {
  const int64_t row_tiles = preactivation_row_tiles(a);
  const int64_t i0 = (tile % row_tiles) * kPreTileRows, b0 = (tile / row_tiles) * kPreTileStreams;
  team.each([&](int, PreactivationAcc<T>& acc) { clear_preactivation_acc(acc); });
  for (int part = 0; part < 2; ++part) {
    const RotatedProduct<T> p =
        part == 0 ? RotatedProduct<T>(a.w_hh, a.v, a.n, i0) : RotatedProduct<T>(a.w_ih, a.x, a.I, i0);
    for (int64_t s0 = 0; s0 < p.steps; s0 += kPreSlabBlocks) {
      team.each([&](int rank, PreactivationAcc<T>&) {
        stage_preactivation_slab(rank, slabs, p, a.n, a.B, i0, b0, s0);
      });
      team.sync();
      team.each([&](int rank, PreactivationAcc<T>& acc) {
        accumulate_preactivation_slab(rank, slabs, p, a.n, a.B, i0, b0, s0, acc);
      });
      team.sync();  // the slab is restaged next
    }
    team.each([&](int rank, PreactivationAcc<T>& acc) {
      finish_preactivation_product(rank, p, a.bias, a.n, a.B, i0, b0, part == 0, acc);
    });
  }
  team.each([&](int rank, PreactivationAcc<T>& acc) { store_preactivations(rank, a, i0, b0, acc); });
}

}  // namespace torch_local_rnn
