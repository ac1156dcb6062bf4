// The loops of the GPU's execution policy (kernels/online_step.cuh's TeamExec) as host-device functions of one
// team member's rank and the team's size: TeamExec calls them with its thread's rank, and the C++ tests run
// them on the CPU for every rank in turn (cpu/team_exec_emulation.h), so the loops the GPU runs (which
// elements a thread takes, in which order, and how the staged owned loop orders reads and writes) are tested
// where there is no GPU. The contract they keep is common/online_step.h's.
#pragma once

#include <cstdint>

#include "activation.h"

namespace torch_local_rnn {

// Streams of one owned element whose reads a thread has in flight in team_loop_owned_acc (then 4 for the
// rest, then 1). Eight: at n = 1024, B = 64 the grid kernel holds ~10^5 threads, and a DRAM latency of ~1 us
// at the 60% of copy bandwidth the trace pass aims for (~2.5 TB/s) needs ~2.5 MB in flight: 4 streams of
// 4-byte entries a thread are ~1.6 MB, 8 are ~3.2 MB. ptxas (sm_90a, RFLO float32) fits 8 in the grid
// kernel's 80 registers without a spill in the loop (32 loads, then 8 stores).
constexpr int kOwnedStreamsInFlight = 8;
// Elements a thread takes side by side when each has fewer than 4 streams.
constexpr int kOwnedElementsInFlight = 4;

// Every loop here is a template on its index type `Index`, the policy's (TeamExec's Index): int32_t where every
// index of the step fits (the one-block and member kernels: kernels/online_step.cuh), int64_t otherwise. A 64-bit
// index costs the GPU two registers and, per address, a wide multiply and a carry chain: ~60% of the B = 1
// trace-and-weight loop's SASS was such address arithmetic (docs/design.md §3.7).

// The (r, c) pairs of a rows x cols block that the member of rank `rank` in a team of `size` visits: flat
// indices e = rank, rank + size, ... of e = r * cols + c, stepped by additions. One division per loop instead
// of one per element: a 64-bit division is some twenty instructions on every element's chain on the GPU,
// more than RFLO's arithmetic for the element (docs/design.md §3.7). cols > 0.
template <typename Index>
struct TeamCursor {
  Index r, c, dr, dc, cols;
  TLR_HOST_DEVICE TeamCursor(Index rank, Index size, Index cols_)
      : r(rank / cols_), c(rank % cols_), dr(size / cols_), dc(size % cols_), cols(cols_) {}
  TLR_HOST_DEVICE void next() {
    r += dr;
    c += dc;
    if (c >= cols) {
      c -= cols;
      ++r;
    }
  }
};

template <typename Index, typename F>
TLR_HOST_DEVICE void team_loop(Index rank, Index size, Index count, F&& f) {
  for (Index k = rank; k < count; k += size) f(k);
}

template <typename Index, typename F>
TLR_HOST_DEVICE void team_loop2(Index rank, Index size, Index rows, Index cols, F&& f) {
  if (rows <= 0 || cols <= 0) return;
  for (TeamCursor<Index> at(rank, size, cols); at.r < rows; at.next()) f(at.r, at.c);
}

// One member per (r, c), k in order inside it.
template <typename Index, typename F>
TLR_HOST_DEVICE void team_loop_owned(Index rank, Index size, Index rows, Index inner, Index cols, F&& f) {
  if (rows <= 0 || cols <= 0) return;
  for (TeamCursor<Index> at(rank, size, cols); at.r < rows; at.next()) {
    for (Index k = 0; k < inner; ++k) f(at.r, k, at.c);
  }
}

// Streams k, k + 1, ..., k + N - 1 of element (r, c): their N stages (reads) first, each call's as an argument
// of the next level, then their updates on acc in stream order (the fold runs left to right).
template <int N, typename Index, typename F, typename A, typename... U>
TLR_HOST_DEVICE void staged_streams(F& f, Index r, Index k, Index c, A& acc, const U&... staged) {
  if constexpr (sizeof...(U) == N) {
    (staged(acc), ...);
  } else {
    staged_streams<N>(f, r, k, c, acc, staged..., f(r, k + static_cast<Index>(sizeof...(U)), c));
  }
}

// loop_owned with the owned element's accumulator in a register (common/online_step.h's loop_owned3_acc):
// weight(r, c) names the memory element, loaded once and stored once; f(r, k, c) does stream k's reads and
// returns its update u, u(w) its writes. The reads of kOwnedStreamsInFlight streams (then 4, then 1) are
// issued before the first of their updates (staged_streams): written as one lambda, a stream's store (a trace
// entry) may alias, for the compiler, every later load, so each thread had one memory round trip in flight per
// stream (RFLO's trace pass at n = 1024, B = 64 ran at 0.115 of the copy bandwidth, docs/design.md §3.7). With
// fewer than 4 streams (B = 1, the papers' networks: one stream), kOwnedElementsInFlight elements are taken
// side by side instead, stream by stream. Either way each element's updates run in k order on the same values, so the bits are those of one
// lambda updating the memory element in place, k after k.
template <typename Index, typename W, typename F>
TLR_HOST_DEVICE void team_loop_owned_acc(Index rank, Index size, Index rows, Index inner, Index cols, W&& weight,
                                         F&& f) {
  static_assert(kOwnedElementsInFlight == 4, "the element groups are written out for four");
  if (rows <= 0 || cols <= 0) return;
  TeamCursor<Index> at(rank, size, cols);
  if (inner < 4) {
    for (;;) {  // four elements at once while this member has four left
      TeamCursor<Index> a1 = at;
      a1.next();
      TeamCursor<Index> a2 = a1;
      a2.next();
      TeamCursor<Index> a3 = a2;
      a3.next();
      if (a3.r >= rows) break;
      auto& s0 = weight(at.r, at.c);
      auto& s1 = weight(a1.r, a1.c);
      auto& s2 = weight(a2.r, a2.c);
      auto& s3 = weight(a3.r, a3.c);
      auto w0 = s0, w1 = s1, w2 = s2, w3 = s3;
      for (Index k = 0; k < inner; ++k) {
        const auto u0 = f(at.r, k, at.c);
        const auto u1 = f(a1.r, k, a1.c);
        const auto u2 = f(a2.r, k, a2.c);
        const auto u3 = f(a3.r, k, a3.c);
        u0(w0);
        u1(w1);
        u2(w2);
        u3(w3);
      }
      s0 = w0;
      s1 = w1;
      s2 = w2;
      s3 = w3;
      at = a3;
      at.next();
    }
  }
  for (; at.r < rows; at.next()) {
    auto& slot = weight(at.r, at.c);
    auto acc = slot;
    Index k = 0;
    for (; k + kOwnedStreamsInFlight <= inner; k += kOwnedStreamsInFlight) {
      staged_streams<kOwnedStreamsInFlight>(f, at.r, k, at.c, acc);
    }
    for (; k + 4 <= inner; k += 4) staged_streams<4>(f, at.r, k, at.c, acc);
    for (; k < inner; ++k) f(at.r, k, at.c)(acc);
    slot = acc;
  }
}

// C = A B, row-major: one member per entry of C, consecutive members on consecutive columns (coalesced reads
// of B on the GPU, a broadcast row of A), the sum over k in order from 0 (GridExec's tiled product keeps
// exactly this per-entry order, kernels/tiled_matmul.cuh).
template <typename Index, typename T>
TLR_HOST_DEVICE void team_matmul(Index rank, Index size, Index M, Index N, Index K, const T* A, Index lda, const T* B,
                                 Index ldb, T* C, Index ldc) {
  if (M <= 0 || N <= 0) return;
  for (TeamCursor<Index> at(rank, size, N); at.r < M; at.next()) {
    const T* a = A + at.r * lda;
    T acc = 0;
    for (Index k = 0; k < K; ++k) acc += a[k] * B[k * ldb + at.c];
    C[at.r * ldc + at.c] = acc;
  }
}

}  // namespace torch_local_rnn
