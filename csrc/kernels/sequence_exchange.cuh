// How the blocks of the persistent sequence kernel (kernels/sequence_persistent.cuh, docs/design.md §3.6) hand
// each other a step's outputs. Only the row blocks of one stream group depend on each other: each computes R of
// the n units of v_t for the group's S streams, and every one of them needs all n for step t + 1. Two ways:
//   cluster  the group is one thread-block cluster (Hopper, sm_90 on): each owner writes its value straight into
//            the next stream tile in every block's shared memory (distributed shared memory), then the cluster's
//            hardware barrier orders those writes before any block reads them. A group of one block is the same
//            code with __syncthreads for the barrier. The tiles are double-buffered: step s reads tile s % 2 while
//            the blocks write step s + 1's values into the other, and the one barrier a step keeps a fast block
//            from writing a tile a slow one still reads (a block cannot start step s + 2's writes before every
//            block of the group has finished step s + 1, hence step s's reads of that tile).
//   flags    through L2: each block writes its outputs to global memory, fences and sets a flag of its own; the
//            blocks of the group poll their producers' flags, fence, and copy the n values back in. Any grid that
//            fits the GPU at once (a cooperative launch), any group size.
// The cluster's barrier and on-chip writes replace two fences, a flag round trip through L2 and the copy back:
// the flags cost about 5 us a step on an H200 wherever a group has several blocks (BENCHMARKS.md, sixth session).
#pragma once

#include <cuda_runtime.h>

namespace torch_local_rnn {
namespace kernels {

// The most blocks one cluster may hold: 8 portably, 16 on Hopper with the kernel's non-portable attribute (the
// planner asks the device how many such clusters it holds at once; none means the shape does not fit).
constexpr int kMaxPortableCluster = 8;
constexpr int kMaxCluster = 16;

// Whether this compilation target has clusters (the planner checks the kernel's binary version on the host).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define TLR_CLUSTERS 1
#else
#define TLR_CLUSTERS 0
#endif

// ---- cluster exchange ----------------------------------------------------------------------------------------

// The address of `local` (this block's shared memory) in the block of cluster rank `rank`; in a group of one block,
// `local` itself.
template <typename T>
__device__ __forceinline__ T* cluster_peer(T* local, int rank, int group_blocks) {
#if TLR_CLUSTERS
  if (group_blocks > 1) return static_cast<T*>(__cluster_map_shared_rank(local, static_cast<unsigned>(rank)));
#endif
  return local;
}

// The step's barrier in two halves, so that work which does not depend on the exchange (the next step's own
// inputs) runs between them: arrive releases this thread's writes (local and remote) to the group, wait acquires
// every other thread's. Every thread of every block of the group calls both, once per step.
__device__ __forceinline__ void group_arrive(int group_blocks) {
#if TLR_CLUSTERS
  if (group_blocks > 1) {
    __cluster_barrier_arrive();
    return;
  }
#else
  if (group_blocks > 1) __trap();  // the planner never sends a multi-block cluster to a target without them
#endif
  __syncthreads();
}

__device__ __forceinline__ void group_wait(int group_blocks) {
#if TLR_CLUSTERS
  if (group_blocks > 1) __cluster_barrier_wait();
#endif
}

// ---- flags exchange ------------------------------------------------------------------------------------------

// Unsigned values apart from one flag to the next: 128 bytes, one L2 line each, so pollers of different producers
// do not queue on one address.
constexpr int kFlagStride = 32;

// Waits until the row_blocks producers of this block's stream group (flags[0], flags[kFlagStride], ...) have
// each reached `step`: one thread per producer polls; each fences after seeing it (acquire), then the barrier.
__device__ __forceinline__ void wait_for_producers(const unsigned* flags, int row_blocks, unsigned step) {
  for (int r = threadIdx.x; r < row_blocks; r += blockDim.x) {
    const volatile unsigned* const flag = flags + r * kFlagStride;
    while (*flag < step) __nanosleep(32);
    __threadfence();
  }
  __syncthreads();
}

// After every thread's stores of step s: make them visible to the grid (the barrier orders the block's stores
// before thread 0's fence), then publish s + 1 in this block's own flag.
__device__ __forceinline__ void signal_done(unsigned* flag, unsigned step_done) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    *reinterpret_cast<volatile unsigned*>(flag) = step_done;
  }
}

}  // namespace kernels
}  // namespace torch_local_rnn
