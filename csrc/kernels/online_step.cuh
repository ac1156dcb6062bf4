// The GPU's execution policies for the shared online step (common/online_step.h), written once over a "team"
// of threads that shares each phase's elements:
//   BlockExec (here): the threads of ONE block, __syncthreads() between phases. The persistent kernel
//     (online_rule.cuh) runs the whole time loop in that block. The papers' network (n = 32, B = 1) is a few
//     thousand flops per step and every step depends on the weights the previous step wrote, so the cost is
//     latency: one launch per sequence and block barriers (~100 ns) beat a kernel launch per phase (~3-5 us)
//     by far. online_learn_members runs one such block per member, all members in one launch
//     (online_members.cuh).
//   GridExec (online_grid_step.cuh): every thread of a cooperative grid, a grid barrier between phases, for
//     networks too large for one SM (docs/design.md §3.7).
// Both keep every element's arithmetic independent of the team's size (each element, each loop_owned /
// matmul entry, each sums row is computed by one thread or one warp in a fixed order), so a result does
// not depend on the policy or on the number of threads: the block kernel, the member kernel and the grid
// kernel give the same bits.
#pragma once

#include "../common/online_step.h"
#include "../common/team_loops.h"
#include "common.cuh"

namespace torch_local_rnn {
namespace kernels {

constexpr int kOnlineThreads = 256;
constexpr int kOnlineWarpSize = 32;

// The per-step activity lives in shared memory when it fits the 48 KiB every launch may
// use without opting in (always at the papers' sizes), else in a global workspace.
constexpr size_t kOnlineSharedBytes = 48 * 1024;

// The contract's primitives over the threads `Team` names: Team::rank() (this thread's index in the team),
// Team::size() (the team's threads, a whole number of warps) and Team::sync() (the team's barrier, which
// also orders the memory accesses before it before those after it). The loops are common/team_loops.h's,
// with this thread's rank (the C++ tests run the same loops for every rank on the CPU), in the index type
// IndexT (`Index`, which the shared step computes its indices in too): int32_t only where the launch has
// checked that every index of the call fits (BlockExec32).
template <typename Team, typename IndexT>
struct TeamExec {
  using Index = IndexT;
  // A warp's threads, one weight row each, read from different columns: without it, at 32 columns (the
  // papers' n) every load of the forward is a 32-way shared-memory bank conflict (common/dot.h's dot_rotated).
  static constexpr bool kRotatedRows = true;
  template <typename F>
  __device__ static void loop(int64_t count, int64_t /*work_per_item*/, F&& f) {
    team_loop(rank(), size(), Index(count), f);
  }
  template <typename F>
  __device__ static void loop2(int64_t rows, int64_t cols, int64_t /*work_per_item*/, F&& f) {
    team_loop2(rank(), size(), Index(rows), Index(cols), f);
  }
  // One thread per (r, c), k in order inside it (common/online_step.h).
  template <typename F>
  __device__ static void loop_owned(int64_t rows, int64_t inner, int64_t cols, int64_t /*work_per_item*/, F&& f) {
    team_loop_owned(rank(), size(), Index(rows), Index(inner), Index(cols), f);
  }
  // loop_owned over three column blocks: one team loop each (their elements are disjoint).
  template <typename F0, typename F1, typename F2>
  __device__ static void loop_owned3(int64_t rows, int64_t inner, int64_t c0, int64_t c1, int64_t c2,
                                     int64_t work_per_item, F0&& f0, F1&& f1, F2&& f2) {
    loop_owned(rows, inner, c0, work_per_item, f0);
    loop_owned(rows, inner, c1, work_per_item, f1);
    loop_owned(rows, inner, c2, work_per_item, f2);
  }
  // The accumulator in a register, several streams' (or, with fewer streams, elements') reads in flight before
  // their updates (team_loop_owned_acc).
  template <typename W, typename F>
  __device__ static void loop_owned_acc(int64_t rows, int64_t inner, int64_t cols, int64_t /*work_per_item*/,
                                        W&& weight, F&& f) {
    team_loop_owned_acc(rank(), size(), Index(rows), Index(inner), Index(cols), weight, f);
  }
  template <typename W0, typename F0, typename W1, typename F1, typename W2, typename F2>
  __device__ static void loop_owned3_acc(int64_t rows, int64_t inner, int64_t c0, int64_t c1, int64_t c2,
                                         int64_t work_per_item, W0&& w0, F0&& f0, W1&& w1, F1&& f1, W2&& w2,
                                         F2&& f2) {
    loop_owned_acc(rows, inner, c0, work_per_item, w0, f0);
    loop_owned_acc(rows, inner, c1, work_per_item, w1, f1);
    loop_owned_acc(rows, inner, c2, work_per_item, w2, f2);
  }
  // C = A B, row-major: one thread per entry of C, k in order (team_matmul).
  template <typename T>
  __device__ static void matmul(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
                                T* C, int64_t ldc) {
    team_matmul(rank(), size(), Index(M), Index(N), Index(K), A, Index(lda), B, Index(ldb), C, Index(ldc));
  }
  // out[r] = sum_k f(r, k): one warp per row, lane-strided partial sums, then a fixed xor-shuffle tree,
  // so the order is the same on every run and for every team size. The warp's lanes loop together (r
  // depends on the warp only), so the full-mask shuffles are safe; every lane gets the sum and lane 0
  // stores it.
  template <typename T, typename F>
  __device__ static void sums(int64_t rows, int64_t count, F&& f, T* out) {
    const Index lane = rank() % kOnlineWarpSize, warps = size() / kOnlineWarpSize;
    for (Index r = rank() / kOnlineWarpSize; r < Index(rows); r += warps) {
      T acc = 0;
      for (Index k = lane; k < Index(count); k += kOnlineWarpSize) acc += f(r, k);
      for (int offset = kOnlineWarpSize / 2; offset > 0; offset /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, offset);
      if (lane == 0) out[r] = acc;
    }
  }
  __device__ static void sync() { Team::sync(); }

 private:
  __device__ static Index rank() { return static_cast<Index>(Team::rank()); }
  __device__ static Index size() { return static_cast<Index>(Team::size()); }
};

// The threads of one block (blockDim.x a multiple of the warp size).
struct BlockTeam {
  __device__ static int64_t rank() { return threadIdx.x; }
  __device__ static int64_t size() { return blockDim.x; }
  __device__ static void sync() { __syncthreads(); }
};

struct BlockExec : TeamExec<BlockTeam, int64_t> {};
// The online one-block and member kernels' policy, in 32 bits: online_learn runs a call on it only when every
// index of the call fits (online_indices_fit, online_rule.cuh), else on the grid (docs/design.md §3.7).
struct BlockExec32 : TeamExec<BlockTeam, int32_t> {};
// BlockExec32 without the per-call options' paths (common/online_step.h's Exec::kOptionPaths): the build of
// the one-block and member kernels that the calls without options run (plain_online_options), so ptxas need
// not size the plain step's registers for the optimiser's, L2's and the credit mode's code (docs/design.md §3.7).
struct BlockExec32Plain : BlockExec32 {
  static constexpr bool kOptionPaths = false;
};

}  // namespace kernels
}  // namespace torch_local_rnn
