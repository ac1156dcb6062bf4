// The tiled persistent sequence kernel (docs/design.md §3.6): a grid of blocks that each hold a row tile of the
// recurrent matrix on chip for the whole sequence and hand each other a step's outputs on chip (a thread-block
// cluster) or through L2 (flags). Its block is common/sequence_tiled_block.h's run_tiled_sequence_block, layout,
// cell contract and exchange described there, which the C++ tests also run on the CPU; here each thread runs it
// for itself over the GPU's primitives (device_thread.cuh). The flags' spin-wait needs every block resident at
// once, so that grid is launched cooperatively (the launch fails rather than deadlocks); a cluster's blocks are
// co-scheduled by the hardware and clusters do not wait on each other, so that grid needs neither
// (sequence_persistent_plan.cuh).
#pragma once

#include "../common/sequence_tiled_block.h"
#include "common.cuh"
#include "device_thread.cuh"

namespace torch_local_rnn {
namespace kernels {

// (kSeqThreads, 2): up to 128 registers a thread, which the 32 accumulators need (without a minimum ptxas chose 64
// and spilled them).
template <typename T, typename Cell, bool kCluster>
__global__ void __launch_bounds__(kSeqThreads, 2) persistent_sequence_kernel(PersistentParams<T, Cell> p) {
  extern __shared__ __align__(16) unsigned char persistent_shared[];
  DeviceThread thread;
  run_tiled_sequence_block<T, Cell, kCluster>(p, persistent_shared, thread);
}

}  // namespace kernels
}  // namespace torch_local_rnn
