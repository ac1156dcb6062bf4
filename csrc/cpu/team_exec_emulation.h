// The GPU's execution policy (kernels/online_step.cuh's TeamExec over a team of Size threads) run on the CPU (the C++
// tests, and the CPU op's online step under TLR_CPU_ONLINE_ORDER=gpu or grid: cpu/online_step_cpu.h):
// each phase runs common/team_loops.h's loops, the very functions the GPU's threads call, for rank 0, 1, ...,
// Size - 1 in turn. That is one of the interleavings the GPU may run, and the only one that matters under the
// policy's contract (common/online_step.h: within a phase no element reads what another writes), so a shared step
// run under this policy computes what the GPU's computes, in the GPU's per-element order. `sums` repeats the
// warp's lane-strided partial sums and its xor-shuffle tree (lane l adds lane l ^ offset's value, offsets 16 to 1).
// IndexT is the policy's index type, as TeamExec's (int32_t in the GPU's one-block and member kernels).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <limits>

#include "common/preactivation_tiles.h"
#include "common/team_loops.h"

namespace torch_local_rnn {

template <int64_t Size, typename IndexT = int32_t>
struct EmulatedTeamExec {
  using Index = IndexT;
  static_assert(Size % 32 == 0, "a team is a whole number of warps");
  static constexpr int64_t kWarp = 32;
  static constexpr bool kRotatedRows = true;  // as TeamExec

  template <typename F>
  static void loop(int64_t count, int64_t, F&& f) {
    for (Index rank = 0; rank < Index(Size); ++rank) team_loop(rank, Index(Size), Index(count), f);
  }
  template <typename F>
  static void loop2(int64_t rows, int64_t cols, int64_t, F&& f) {
    for (Index rank = 0; rank < Index(Size); ++rank) {
      team_loop2(rank, Index(Size), Index(rows), Index(cols), f);
    }
  }
  template <typename F>
  static void loop_owned(int64_t rows, int64_t inner, int64_t cols, int64_t, F&& f) {
    for (Index rank = 0; rank < Index(Size); ++rank) {
      team_loop_owned(rank, Index(Size), Index(rows), Index(inner), Index(cols), f);
    }
  }
  template <typename F0, typename F1, typename F2>
  static void loop_owned3(int64_t rows, int64_t inner, int64_t c0, int64_t c1, int64_t c2, int64_t work, F0&& f0,
                          F1&& f1, F2&& f2) {
    loop_owned(rows, inner, c0, work, f0);
    loop_owned(rows, inner, c1, work, f1);
    loop_owned(rows, inner, c2, work, f2);
  }
  template <typename W, typename F>
  static void loop_owned_acc(int64_t rows, int64_t inner, int64_t cols, int64_t, W&& weight, F&& f) {
    for (Index rank = 0; rank < Index(Size); ++rank) {
      team_loop_owned_acc(rank, Index(Size), Index(rows), Index(inner), Index(cols), weight, f);
    }
  }
  template <typename W0, typename F0, typename W1, typename F1, typename W2, typename F2>
  static void loop_owned3_acc(int64_t rows, int64_t inner, int64_t c0, int64_t c1, int64_t c2, int64_t work, W0&& w0,
                              F0&& f0, W1&& w1, F1&& f1, W2&& w2, F2&& f2) {
    loop_owned_acc(rows, inner, c0, work, w0, f0);
    loop_owned_acc(rows, inner, c1, work, w1, f1);
    loop_owned_acc(rows, inner, c2, work, w2, f2);
  }
  template <typename T>
  static void matmul(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                     int64_t ldc) {
    for (Index rank = 0; rank < Index(Size); ++rank) {
      team_matmul(rank, Index(Size), Index(M), Index(N), Index(K), A, Index(lda), B, Index(ldb), C, Index(ldc));
    }
  }
  // A warp per row (row r on warp r mod Size/32, which only decides who computes it): lane l sums f(r, k) for
  // k = l, l + 32, ... in order; then, for offset = 16, 8, 4, 2, 1, every lane adds its partner's value.
  template <typename T, typename F>
  static void sums(int64_t rows, int64_t count, F&& f, T* out) {
    for (Index r = 0; r < Index(rows); ++r) {
      std::array<T, kWarp> acc{};
      for (int64_t lane = 0; lane < kWarp; ++lane) {
        T a = 0;
        for (Index k = Index(lane); k < Index(count); k += Index(kWarp)) a += f(r, k);
        acc[lane] = a;
      }
      for (int64_t offset = kWarp / 2; offset > 0; offset /= 2) {
        std::array<T, kWarp> next{};
        for (int64_t lane = 0; lane < kWarp; ++lane) next[lane] = acc[lane] + acc[lane ^ offset];
        acc = next;
      }
      out[r] = acc[0];
    }
  }
  static void sync() {}
};

// The policy built without the per-call options' paths (kernels/online_step.cuh's BlockExec32Plain): the same
// loops, the optimiser's, L2's, the schedule's and the credit mode's code compiled out (common/online_step.h).
template <int64_t Size>
struct EmulatedTeamExecPlain : EmulatedTeamExec<Size> {
  static constexpr bool kOptionPaths = false;
};

// A block of the grid's tiled forward (kernels/tiled_preactivations.cuh) emulated: f for rank 0, 1, ... in turn,
// each with its own sums, and no barrier needed between phases that already ran in turn.
template <typename T>
struct EmulatedPreactivationTeam {
  std::array<PreactivationAcc<T>, kPreTileThreads> acc{};
  template <typename F>
  void each(F&& f) {
    for (int rank = 0; rank < kPreTileThreads; ++rank) f(rank, acc[rank]);
  }
  void sync() {}
};

// Every tile of the tiled forward, as the grid's blocks run them (which block takes a tile decides nothing). The
// slabs start as NaN, as shared memory starts undefined: a sum that read an entry no stage wrote would be NaN.
template <typename T>
void emulated_tiled_preactivations(const PreactivationBatch<T>& batch) {
  EmulatedPreactivationTeam<T> team;
  PreactivationSlabs<T> slabs;
  for (auto& row : slabs.w) std::fill(std::begin(row), std::end(row), std::numeric_limits<T>::quiet_NaN());
  for (auto& row : slabs.v) std::fill(std::begin(row), std::end(row), std::numeric_limits<T>::quiet_NaN());
  for (int64_t tile = 0; tile < preactivation_tiles(batch); ++tile) {
    preactivation_tile(team, slabs, batch, tile);
  }
}

// The grid's policy (kernels/online_grid_step.cuh's GridExec, 64-bit indices): the team loops as above and the
// forward by tiles at every size (the GPU takes the tiles from 32 units on; the bits are the same either way).
template <int64_t Size>
struct EmulatedGridExec : EmulatedTeamExec<Size, int64_t> {
  static constexpr bool kBatchPreactivations = true;
  template <typename T>
  static bool preactivations(const PreactivationBatch<T>& batch) {
    emulated_tiled_preactivations(batch);
    return true;
  }
};

// The grid's policy without the options' paths (kernels/online_grid_step.cuh's GridExecPlain).
template <int64_t Size>
struct EmulatedGridExecPlain : EmulatedGridExec<Size> {
  static constexpr bool kOptionPaths = false;
};

}  // namespace torch_local_rnn
