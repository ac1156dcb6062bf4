// One stream of the warp-per-stream sequence kernel (kernels/sequence_warp.cuh, docs/design.md §3.6) as a
// host-device function of its warp, so that the C++ tests run on the CPU what each lane runs on the GPU
// (tests/cpp/test_sequence_warp.cpp). `Warp` runs each per-lane statement for its lanes and hands lane j's v to
// the product: on the GPU the calling lane alone and a shuffle, in the tests lanes 0 .. 31 in turn and lane j's
// state. The lanes of a warp run in step, so the order of the statements below is the only order there is: every
// lane's product of step s reads v_{s-1} before any lane's finish writes v_s.
//
// Lane i owns unit i (i < n <= 32) and holds row i of M (W_hh, or W_hh^T for BPTT's adjoint) for the whole
// sequence; a step's own inputs are loaded kWarpPrefetch steps ahead, the step loop unrolled by kWarpPrefetch so
// that slot d of the ring is a compile-time index (a register on the GPU).
#pragma once

#include <cstdint>

#include "activation.h"

namespace torch_local_rnn {

constexpr int kWarpSequenceMaxUnits = 32;  // a lane per unit
constexpr int kWarpPrefetch = 8;          // steps whose own inputs are in flight

// The cells are kernels/leaky_rnn_persistent.cuh's and rules/bptt/bptt_persistent.cuh's (the tiled kernel's
// contract, kernels/sequence_persistent.cuh).
template <typename T, typename Cell>
struct WarpSequenceParams {
  const T* matrix;  // M = W_hh (n, n) row-major; transposed: M[i, j] = matrix[j n + i]
  bool transpose;
  int n, B, steps;
  T* last;  // (B, n): each output's carried value after the last step, or null
  Cell cell;
};

// What one lane keeps for the whole sequence.
template <typename T, typename Cell>
struct WarpLane {
  T row[kWarpSequenceMaxUnits];  // row i of M, 0 past n
  T carried;                     // the cell's own state of unit i (a_{t-1}; BPTT's delta)
  T v;                           // v_{s-1}[b, i]: what the last step's finish gave (0 on lanes past n)
  T acc;                         // this step's product
  typename Cell::Inputs ahead[kWarpPrefetch];
  bool owner;
  int64_t k;  // b n + i
};

// sum_j M[i, j] v[j] over j < 32 (row[j] = 0 past n, and so is lane j's v), lane_v(j) = lane j's v, in four
// partial sums (column j into j mod 4) so that the chain of dependent multiply-adds is 8 long, not 32.
template <typename T, typename LaneV>
TLR_HOST_DEVICE T warp_row_product(const T (&row)[kWarpSequenceMaxUnits], const LaneV& lane_v) {
  T part[4] = {T(0), T(0), T(0), T(0)};
  TLR_UNROLL
  for (int j = 0; j < kWarpSequenceMaxUnits; ++j) part[j % 4] += row[j] * lane_v(j);
  return (part[0] + part[1]) + (part[2] + part[3]);
}

// Stream b's whole sequence. Warp: each(f) runs f(lane, WarpLane&) for its lanes; products(any) sets every
// lane's acc to its row's product with the lanes' v (any) or to 0 (step s has no product).
template <typename T, typename Cell, typename Warp>
TLR_HOST_DEVICE void run_warp_stream(const WarpSequenceParams<T, Cell>& p, int64_t b, Warp& warp) {
  using Lane = WarpLane<T, Cell>;
  const int n = p.n, steps = p.steps;
  warp.each([&](int lane, Lane& l) {
    l.owner = lane < n;
    l.k = b * n + lane;
    for (int j = 0; j < kWarpSequenceMaxUnits; ++j) {
      l.row[j] = l.owner && j < n ? (p.transpose ? p.matrix[j * n + lane] : p.matrix[lane * n + j]) : T(0);
    }
    l.carried = l.owner ? p.cell.initial(l.k) : T(0);
    l.v = T(0);
    for (int d = 0; d < kWarpPrefetch; ++d) {
      l.ahead[d] = l.owner && d < steps ? p.cell.load(d, l.k) : typename Cell::Inputs{};
    }
  });
  for (int s0 = 0; s0 < steps; s0 += kWarpPrefetch) {
    TLR_UNROLL
    for (int d = 0; d < kWarpPrefetch; ++d) {
      const int s = s0 + d;
      if (s >= steps) break;
      const T* const src = p.cell.source(s);
      if (src != nullptr && p.cell.source_is_input(s)) {  // step 0's h0: not the kernel's own output
        warp.each([&](int, Lane& l) { l.v = l.owner ? src[l.k] : T(0); });
      }
      warp.products(src != nullptr);
      warp.each([&](int, Lane& l) {
        if (!l.owner) return;
        const typename Cell::Outputs outputs = p.cell.finish(s, l.acc, l.ahead[d], l.carried);
        l.v = outputs.value();
        p.cell.store(s, l.k, outputs);
        if (s + kWarpPrefetch < steps) l.ahead[d] = p.cell.load(s + kWarpPrefetch, l.k);
      });
    }
  }
  warp.each([&](int, Lane& l) {
    if (l.owner && p.last != nullptr) p.last[l.k] = l.carried;
  });
}

}  // namespace torch_local_rnn
