// The persistent sequence kernel for networks of at most 32 units (the papers' n = 32; docs/design.md §3.6): one
// warp per stream, lane i owning unit i, with row i of M (W_hh, or W_hh^T for BPTT's adjoint) in its registers for
// the whole sequence. A step's product takes v_{t-1}[j] from lane j by a shuffle, so a step has no block barrier
// and no shared memory at all: the streams are independent and a warp's lanes run in step. The tiled kernel
// (sequence_persistent.cuh) at this size held one block of 8 warps for 8 streams, each step a reduce-scatter of
// 31 shuffles and a block barrier: 0.84 us a step at B = 1 on an H200 against cuDNN's 0.36 (sixth session).
//
// A stream's sequence is common/sequence_warp_stream.h's run_warp_stream, which the C++ tests run on the CPU for
// every lane; here each lane runs it for itself. The product sums in four partial sums, the CPU op
// otherwise, so CUDA and CPU agree to a tolerance, as for the tiled kernel. A step's own inputs are read
// kWarpPrefetch steps ahead, so their global latency (~0.5 us) is hidden behind the steps in between.
#pragma once

#include <cstdint>

#include "../common/sequence_warp_stream.h"
#include "common.cuh"
#include "device_thread.cuh"

namespace torch_local_rnn {
namespace kernels {

constexpr int kWarpSequenceWarps = 4;  // streams (warps) per block
constexpr int kWarpSequenceThreads = 32 * kWarpSequenceWarps;

template <typename T, typename Cell>
__global__ void __launch_bounds__(kWarpSequenceThreads) warp_sequence_kernel(WarpSequenceParams<T, Cell> p) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * kWarpSequenceWarps + threadIdx.x / 32;
  if (b >= p.B) return;  // the whole warp: b is the warp's
  DeviceThread thread;
  run_warp_stream(p, b, static_cast<int>(threadIdx.x % 32), thread);
}

// Null where the warp kernel takes a network of n units, B streams and `steps` steps (a lane per unit; its
// counts are ints), else why not.
inline const char* warp_sequence_why_not(int64_t n, int64_t B, int64_t steps) {
  if (n < 1 || n > kWarpSequenceMaxUnits) return "the warp kernel holds one unit a lane, at most 32 units";
  if (B > (1 << 30) || steps > (1 << 30)) return "the sizes exceed the warp kernel's index range";
  return nullptr;
}

// Launches a warp per stream on `stream`; returns the launch's error.
template <typename T, typename Cell>
cudaError_t launch_warp_sequence(const WarpSequenceParams<T, Cell>& p, cudaStream_t stream) {
  const int64_t blocks = (static_cast<int64_t>(p.B) + kWarpSequenceWarps - 1) / kWarpSequenceWarps;
  warp_sequence_kernel<T, Cell><<<static_cast<unsigned>(blocks), kWarpSequenceThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace kernels
}  // namespace torch_local_rnn
