// The persistent sequence kernel for networks of at most 32 units (the papers' n = 32; docs/design.md §3.6): one
// warp per stream, lane i owning unit i, with row i of M (W_hh, or W_hh^T for BPTT's adjoint) in its registers for
// the whole sequence. A step's product takes v_{t-1}[j] from lane j by a shuffle, so a step has no block barrier
// and no shared memory at all: the streams are independent and a warp's lanes run in step. The tiled kernel
// (sequence_persistent.cuh) at this size held one block of 8 warps for 8 streams, each step a reduce-scatter of
// 31 shuffles and a block barrier: 0.84 us a step at B = 1 on an H200 against cuDNN's 0.36 (sixth session).
//
// The cells are the tiled kernel's (same contract); v_s is what finish gives, kept in the lane's register. The
// product sums in four partial sums (column j into j mod 4), so the chain of dependent multiply-adds is 8 long,
// not 32; the CPU sums otherwise, so CUDA and CPU agree to a tolerance, as for the tiled kernel. A step's own
// inputs are read kWarpPrefetch steps ahead (one register set each), so their global latency (~0.5 us) is
// hidden behind the steps in between (~0.1-0.2 us each).
#pragma once

#include <cstdint>

#include "common.cuh"

namespace torch_local_rnn {
namespace kernels {

constexpr int kWarpSequenceWarps = 4;  // streams (warps) per block
constexpr int kWarpSequenceThreads = 32 * kWarpSequenceWarps;
constexpr int kWarpSequenceMaxUnits = 32;  // a lane per unit
constexpr int kWarpPrefetch = 8;          // steps whose own inputs are in flight

template <typename T, typename Cell>
struct WarpSequenceParams {
  const T* matrix;  // M = W_hh (n, n) row-major; transposed: M[i, j] = matrix[j n + i]
  bool transpose;
  int n, B, steps;
  T* last;  // (B, n): each output's carried value after the last step, or null
  Cell cell;
};

// sum_j M[i, j] v[j] over j < 32 (row[j] = 0 past n, and so is lane j's v), v[j] from lane j.
template <typename T>
__device__ __forceinline__ T warp_row_product(const T (&row)[kWarpSequenceMaxUnits], T v) {
  T part[4] = {T(0), T(0), T(0), T(0)};
#pragma unroll
  for (int j = 0; j < kWarpSequenceMaxUnits; ++j) part[j % 4] += row[j] * __shfl_sync(0xffffffffu, v, j);
  return (part[0] + part[1]) + (part[2] + part[3]);
}

template <typename T, typename Cell>
__global__ void __launch_bounds__(kWarpSequenceThreads) warp_sequence_kernel(WarpSequenceParams<T, Cell> p) {
  const int lane = threadIdx.x % 32;
  const int64_t b = static_cast<int64_t>(blockIdx.x) * kWarpSequenceWarps + threadIdx.x / 32;
  if (b >= p.B) return;  // the whole warp: b is the warp's
  const int n = p.n;
  const bool owner = lane < n;
  const int64_t k = b * n + lane;
  T row[kWarpSequenceMaxUnits];
#pragma unroll
  for (int j = 0; j < kWarpSequenceMaxUnits; ++j) {
    row[j] = owner && j < n ? (p.transpose ? p.matrix[j * n + lane] : p.matrix[lane * n + j]) : T(0);
  }
  T carried = owner ? p.cell.initial(k) : T(0);
  T v = T(0);  // v_{s-1}[b, lane]: what the last step's finish gave (0 on the lanes past n)
  typename Cell::Inputs ahead[kWarpPrefetch];
#pragma unroll
  for (int d = 0; d < kWarpPrefetch; ++d) {
    ahead[d] = owner && d < p.steps ? p.cell.load(d, k) : typename Cell::Inputs{};
  }
  // Unrolled by kWarpPrefetch, so that ahead[d] is a register (a run-time index would put it in local memory).
  for (int s0 = 0; s0 < p.steps; s0 += kWarpPrefetch) {
#pragma unroll
    for (int d = 0; d < kWarpPrefetch; ++d) {
      const int s = s0 + d;
      if (s >= p.steps) break;
      const T* const src = p.cell.source(s);
      T acc = T(0);
      if (src != nullptr) {
        if (p.cell.source_is_input(s)) v = owner ? src[k] : T(0);
        acc = warp_row_product(row, v);
      }
      if (owner) {
        const typename Cell::Outputs outputs = p.cell.finish(s, acc, ahead[d], carried);
        v = outputs.value();
        p.cell.store(s, k, outputs);
        if (s + kWarpPrefetch < p.steps) ahead[d] = p.cell.load(s + kWarpPrefetch, k);
      }
    }
  }
  if (owner && p.last != nullptr) p.last[k] = carried;
}

// Whether the warp kernel takes a network of n units.
inline bool warp_sequence_fits(int64_t n) { return n >= 1 && n <= kWarpSequenceMaxUnits; }

// Launches a warp per stream on `stream`; returns the launch's error.
template <typename T, typename Cell>
cudaError_t launch_warp_sequence(const WarpSequenceParams<T, Cell>& p, cudaStream_t stream) {
  const int64_t blocks = (static_cast<int64_t>(p.B) + kWarpSequenceWarps - 1) / kWarpSequenceWarps;
  warp_sequence_kernel<T, Cell><<<static_cast<unsigned>(blocks), kWarpSequenceThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace kernels
}  // namespace torch_local_rnn
