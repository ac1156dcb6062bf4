// One stream of the warp-per-stream sequence kernel (kernels/sequence_warp.cuh, docs/design.md §3.6) as host-device
// code of one lane over its primitives (`Thread`: kernels/device_thread.cuh on the GPU), so that the C++ tests run
// it for every lane on the CPU (tests/cpp/test_sequence_warp.cpp, with tests/cpp/simt_emulation.h's fibers).
//
// Lane i owns unit i (i < n <= 32) and holds row i of M (W_hh, or W_hh^T for BPTT's adjoint) for the whole
// sequence; a step's product takes lane j's v_{s-1} by a shuffle, so every lane's product of step s reads v_{s-1}
// before any lane's finish writes v_s. A step's own inputs are loaded kWarpPrefetch steps ahead, the step loop
// unrolled by kWarpPrefetch so that slot d of the ring is a compile-time index (a register on the GPU).
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

// sum_j M[i, j] v[j] over j < 32 (row[j] = 0 past n, and so is lane j's v), lane_v(j) = lane j's v, in four
// partial sums (column j into j mod 4) so that the chain of dependent multiply-adds is 8 long, not 32.
template <typename T, typename LaneV>
TLR_HOST_DEVICE T warp_row_product(const T (&row)[kWarpSequenceMaxUnits], const LaneV& lane_v) {
  T part[4] = {T(0), T(0), T(0), T(0)};
  TLR_UNROLL
  for (int j = 0; j < kWarpSequenceMaxUnits; ++j) part[j % 4] += row[j] * lane_v(j);
  return (part[0] + part[1]) + (part[2] + part[3]);
}

// Stream b's whole sequence as lane `lane` of its warp runs it. Every lane of the warp calls thread.shfl at the same
// steps: the branches around it depend on the step alone.
template <typename T, typename Cell, typename Thread>
TLR_HOST_DEVICE void run_warp_stream(const WarpSequenceParams<T, Cell>& p, int64_t b, int lane, Thread& thread) {
  const int n = p.n, steps = p.steps;
  const bool owner = lane < n;
  const int64_t k = b * n + lane;
  T row[kWarpSequenceMaxUnits];  // row i of M, 0 past n
  for (int j = 0; j < kWarpSequenceMaxUnits; ++j) {
    row[j] = owner && j < n ? (p.transpose ? p.matrix[j * n + lane] : p.matrix[lane * n + j]) : T(0);
  }
  T carried = owner ? p.cell.initial(k) : T(0);  // the cell's own state of unit i (a_{t-1}; BPTT's delta)
  T v = T(0);                                    // v_{s-1}[b, i] (0 on lanes past n)
  typename Cell::Inputs ahead[kWarpPrefetch];
  for (int d = 0; d < kWarpPrefetch; ++d) {
    ahead[d] = owner && d < steps ? p.cell.load(d, k) : typename Cell::Inputs{};
  }
  for (int s0 = 0; s0 < steps; s0 += kWarpPrefetch) {
    TLR_UNROLL
    for (int d = 0; d < kWarpPrefetch; ++d) {
      const int s = s0 + d;
      if (s >= steps) break;
      const T* const src = p.cell.source(s);
      if (src != nullptr && p.cell.source_is_input(s)) v = owner ? src[k] : T(0);  // step 0's h0
      const T acc = src != nullptr ? warp_row_product(row, [&](int j) { return thread.shfl(v, j); }) : T(0);
      if (!owner) continue;
      const typename Cell::Outputs outputs = p.cell.finish(s, acc, ahead[d], carried);
      v = outputs.value();
      p.cell.store(s, k, outputs);
      if (s + kWarpPrefetch < steps) ahead[d] = p.cell.load(s + kWarpPrefetch, k);
    }
  }
  if (owner && p.last != nullptr) p.last[k] = carried;
}

}  // namespace torch_local_rnn
