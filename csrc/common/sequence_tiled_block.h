// One block of the tiled persistent sequence kernel (kernels/sequence_persistent.cuh, docs/design.md §3.6; up to 32
// units a warp per stream runs instead, common/sequence_warp_stream.h): one launch runs a recurrence of the form
//   acc_t[b, i] = sum_j M[i, j] v_{t-1}[b, j],   then a pointwise Cell::finish per (b, i) that gives v_t,
// for all T steps, the way cuDNN's persistent RNN and haste keep the recurrent matrix on chip. The forward
// (M = W_hh, v = a: kernels/leaky_rnn_persistent.cuh) and exact BPTT's adjoint (M = W_hh^T, v = C:
// rules/bptt/bptt_persistent.cuh) are its two cells. The stepwise path (a cuBLAS GEMM and a pointwise launch
// per step, ~25 us a step on an H200) is latency, not work: at B = 64, n = 512 a step is 17 Mflop, a few us
// of the chip. Here a step costs one on-chip product and one wait for the step before.
//
// Layout: block (rb, bb) owns rows [rb R, rb R + R) of M, held in shared memory for the whole sequence, and
// streams [bb S, bb S + S); each step it has v_{t-1} of its S streams (S x n) in shared memory and forms its
// R x S outputs. A warp owns a 4 x 8 tile (kWarpRows rows x kWarpStreams streams): lane l sums the columns
// j = l, l + 32, ... for all 32 outputs (conflict-free shared reads, 12 loads per 32 multiply-adds), then a
// butterfly reduce-scatter (31 shuffles) leaves output l in lane l, which owns it on every step, so the cell's
// per-(b, i) state (a_{t-1} in the forward, delta in BPTT) stays in a register.
//
// Synchronisation: only the blocks of one stream group (its row blocks) depend on each other, so there is no
// grid-wide barrier; they hand a step's outputs around on chip or through L2 (common/sequence_exchange.h). Every
// step writes its own slot of the (T, B, n) output, so nothing is overwritten while another block may read it.
//
// The block's body is host-device code of one thread over its primitives (`Thread`: kernels/device_thread.cuh on
// the GPU), so the C++ tests run it for every thread of every block of a grid on the CPU
// (tests/cpp/test_sequence_tiled.cpp), the exchange included.
#pragma once

#include <cstddef>
#include <cstdint>

#include "activation.h"
#include "sequence_exchange.h"

namespace torch_local_rnn {

constexpr int kSeqWarps = 8;                // warps per block
constexpr int kSeqThreads = 32 * kSeqWarps;
constexpr int kWarpRows = 4;                // a warp's tile: kWarpRows x kWarpStreams = 32 outputs, one per lane
constexpr int kWarpStreams = 8;

// The grid the host chose (kernels/sequence_persistent_plan.cuh): warps per block along rows x along streams =
// kSeqWarps.
struct PersistentPlan {
  bool fits = false;
  int warp_rows = 0, warp_streams = 0;  // R = kWarpRows warp_rows rows, S = kWarpStreams warp_streams streams
  int row_blocks = 0, stream_blocks = 0;
  bool cluster = false;  // the exchange: a cluster of row_blocks blocks per stream group, else flags
  int waves = 1;         // clusters: how many rounds of the device's resident clusters the stream groups take
  size_t shared_bytes = 0;
  const char* why = "";  // when it does not fit
};

// A plan's block shape for n units and B streams of `element_bytes` each (whether the device runs it is the
// planner's question): row_blocks x stream_blocks blocks, the R x n row tile and one S x n stream tile (flags) or
// two (cluster) in shared memory.
inline PersistentPlan persistent_shape(int warp_rows, bool cluster, int64_t n, int64_t B, size_t element_bytes) {
  PersistentPlan plan;
  plan.warp_rows = warp_rows;
  plan.warp_streams = kSeqWarps / warp_rows;
  plan.cluster = cluster;
  const int R = kWarpRows * plan.warp_rows, S = kWarpStreams * plan.warp_streams;
  plan.row_blocks = static_cast<int>((n + R - 1) / R);
  plan.stream_blocks = static_cast<int>((B + S - 1) / S);
  plan.shared_bytes = static_cast<size_t>(R + (cluster ? 2 : 1) * S) * n * element_bytes;
  return plan;
}

template <typename T, typename Cell>
struct PersistentParams {
  const T* matrix;     // M = W_hh (n, n) row-major; transposed: M[i, j] = matrix[j n + i]
  bool transpose;
  int n, B, steps;
  unsigned* flags;     // flags exchange: (row_blocks * stream_blocks * kFlagStride), zero on entry: block g's at
                       // g * kFlagStride; null for clusters
  T* last;             // (B, n): each output's carried value after the last step, or null
  Cell cell;
  PersistentPlan plan;
};

// acc[e] (e < 32) summed over the warp's lanes, lane l keeping the sum of entry l: each round a lane keeps the
// half of its entries named by its bit and adds its partner's copy of them. Fixed order: deterministic. The
// rounds are a template recursion so every index is a constant and acc stays in registers.
template <int Half, typename T, typename Thread>
TLR_HOST_DEVICE void reduce_round(Thread& thread, T (&acc)[32], int lane) {
  const bool upper = (lane & Half) != 0;
  TLR_UNROLL
  for (int e = 0; e < Half; ++e) {
    const T send = upper ? acc[e] : acc[e + Half];
    const T keep = upper ? acc[e + Half] : acc[e];
    acc[e] = keep + thread.shfl_xor(send, Half);
  }
  if constexpr (Half > 1) reduce_round<Half / 2>(thread, acc, lane);
}

// The warp's 32 dot products over n: rows w[r n + j], streams v[s n + j] (shared memory), then reduce-scatter.
template <typename T, typename Thread>
TLR_HOST_DEVICE T warp_tile_products(Thread& thread, const T* w, const T* v, int n, int lane) {
  T acc[32];
  TLR_UNROLL
  for (int e = 0; e < 32; ++e) acc[e] = T(0);
  for (int j = lane; j < n; j += 32) {
    T wr[kWarpRows], vs[kWarpStreams];
    TLR_UNROLL
    for (int r = 0; r < kWarpRows; ++r) wr[r] = w[r * n + j];
    TLR_UNROLL
    for (int s = 0; s < kWarpStreams; ++s) vs[s] = v[s * n + j];
    TLR_UNROLL
    for (int r = 0; r < kWarpRows; ++r) {
      TLR_UNROLL
      for (int s = 0; s < kWarpStreams; ++s) acc[r * kWarpStreams + s] += wr[r] * vs[s];
    }
  }
  reduce_round<16>(thread, acc, lane);
  return acc[0];
}

// Cell contract (the two cells are in kernels/leaky_rnn_persistent.cuh and rules/bptt/bptt_persistent.cuh):
//   const T* source(s)        v_{s-1} (B, n) for step s, or null when step s has no product (acc = 0);
//   T initial(k)              the carried value of output k = b n + i before step 0;
//   Inputs load(s, k)         the step's own inputs of output k (read before waiting: they do not depend on it);
//   Outputs finish(s, acc, inputs, carried)   step s's outputs of one (b, i) from its product; updates carried;
//                             outputs.value() is what step s + 1 reads as v_s[b, i] (the state a_t; BPTT's
//                             credit C_t);
//   void store(s, k, outputs) writes output k of step s (source(s + 1) among them).
// A source other than the kernel's own output (step 0's h0) needs no wait: source_is_input(s). The cluster
// exchange relies on the contract: a step whose source is the kernel's own output reads exactly the values
// finish gave the step before, so they never go through global memory, and the global stores can wait until the
// exchange is under way (a cluster barrier's release waits for every store before it, GPU-wide: MEMBAR.ALL.GPU).
//
// kCluster picks the exchange. `shared`: the R x n row tile, then one S x n stream tile (flags) or two (cluster:
// step s reads tile s % 2), p.plan.shared_bytes in all. Every thread of the block runs this, thread.block() being
// block rb + row_blocks bb (the rank in its cluster: rb).
template <typename T, typename Cell, bool kCluster, typename Thread>
TLR_HOST_DEVICE void run_tiled_sequence_block(const PersistentParams<T, Cell>& p, unsigned char* shared,
                                              Thread& thread) {
  const int n = p.n, B = p.B, group_blocks = p.plan.row_blocks;
  const int R = kWarpRows * p.plan.warp_rows, S = kWarpStreams * p.plan.warp_streams;
  const int block = thread.block(), tid = thread.thread();
  const int rb = block % group_blocks, sb = block / group_blocks;
  const int row0 = rb * R, b0 = sb * S;
  const int stream_tile = S * n;
  T* const w_tile = reinterpret_cast<T*>(shared);               // R x n; rows past n are zero
  T* const v_tiles = w_tile + static_cast<int64_t>(R) * n;     // S x n each; streams past B are zero

  for (int e = tid; e < R * n; e += kSeqThreads) {
    const int i = row0 + e / n, j = e % n;
    w_tile[e] = i < n ? (p.transpose ? p.matrix[static_cast<int64_t>(j) * n + i]
                                     : p.matrix[static_cast<int64_t>(i) * n + j])
                      : T(0);
  }
  for (int e = tid; e < (kCluster ? 2 : 1) * stream_tile; e += kSeqThreads) v_tiles[e] = T(0);  // padding
  const int warp = tid / 32, lane = tid % 32;
  const int warp_row = warp % p.plan.warp_rows, warp_stream = warp / p.plan.warp_rows;
  const int i = row0 + warp_row * kWarpRows + lane / kWarpStreams;   // this lane's output after the reduce
  const int b = b0 + warp_stream * kWarpStreams + lane % kWarpStreams;
  const bool owner = i < n && b < B;
  const int64_t k = static_cast<int64_t>(b) * n + i;
  T carried = owner ? p.cell.initial(k) : T(0);
  const T* const w_warp = w_tile + warp_row * kWarpRows * n;
  const int v_warp = warp_stream * kWarpStreams * n;  // the warp's streams within a stream tile
  const int v_own = (b - b0) * n + i;                 // this lane's output within a stream tile
  // flags: the group's producers and this block's own (block = sb row_blocks + rb)
  const unsigned* const group_flags =
      kCluster ? nullptr : p.flags + static_cast<int64_t>(sb) * group_blocks * kFlagStride;
  unsigned* const own_flag = kCluster ? nullptr : p.flags + static_cast<int64_t>(block) * kFlagStride;
  if constexpr (kCluster) {  // every block of the group has zeroed its tiles before any block writes into them
    group_arrive(thread, group_blocks);
    group_wait(thread, group_blocks);
  } else {
    thread.sync_block();
  }

  typename Cell::Inputs inputs{};
  if (owner && p.steps > 0) inputs = p.cell.load(0, k);
  for (int s = 0; s < p.steps; ++s) {
    T* const v_tile = v_tiles + (kCluster ? (s & 1) * stream_tile : 0);
    const T* const src = p.cell.source(s);
    T acc = T(0);
    if (src != nullptr) {
      // cluster: a step's own outputs are in v_tile already (written by the group before the last barrier)
      if (!kCluster || p.cell.source_is_input(s)) {
        if (!kCluster && !p.cell.source_is_input(s)) {
          wait_for_producers(thread, group_flags, group_blocks, static_cast<unsigned>(s));
        }
        for (int bl = 0; bl < S; ++bl) {  // stream by stream: no index division in the copy
          const T* const row = src + static_cast<int64_t>(b0 + bl) * n;
          const bool real = b0 + bl < B;
          for (int j = tid; j < n; j += kSeqThreads) v_tile[bl * n + j] = real ? thread.load_l2(row + j) : T(0);
        }
        thread.sync_block();
      }
      acc = warp_tile_products(thread, w_warp, v_tile + v_warp, n, lane);
    }
    const bool more = s + 1 < p.steps;
    typename Cell::Outputs outputs{};
    if (owner) outputs = p.cell.finish(s, acc, inputs, carried);
    if constexpr (kCluster) {
      if (owner && more) {  // into the next stream tile of every block of the group, this one included
        T* const next = v_tiles + ((s + 1) & 1) * stream_tile + v_own;
        for (int r = 0; r < group_blocks; ++r) *cluster_peer(thread, next, r, group_blocks) = outputs.value();
      }
      group_arrive(thread, group_blocks);
      // not part of the exchange, so after the release: it need not wait for these stores
      if (owner) p.cell.store(s, k, outputs);
      if (owner && more) inputs = p.cell.load(s + 1, k);
      group_wait(thread, group_blocks);
    } else {
      if (owner) p.cell.store(s, k, outputs);
      signal_done(thread, own_flag, static_cast<unsigned>(s + 1));  // its barrier: every warp is done with v_tile
      if (owner && more) inputs = p.cell.load(s + 1, k);
    }
  }
  if (owner && p.last != nullptr) p.last[k] = carried;
}

}  // namespace torch_local_rnn
