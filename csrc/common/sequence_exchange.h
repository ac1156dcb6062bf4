// How the blocks of the tiled persistent sequence kernel (common/sequence_tiled_block.h, docs/design.md §3.6) hand
// each other a step's outputs. Only the row blocks of one stream group depend on each other: each computes R of
// the n units of v_t for the group's S streams, and every one of them needs all n for step t + 1. Two ways:
//   cluster  the group is one thread-block cluster (Hopper, sm_90 on): each owner writes its value straight into
//            the next stream tile in every block's shared memory (distributed shared memory), then the cluster's
//            hardware barrier orders those writes before any block reads them. A group of one block is the same
//            code with the block barrier. The tiles are double-buffered: step s reads tile s % 2 while the blocks
//            write step s + 1's values into the other, and the one barrier a step keeps a fast block from writing
//            a tile a slow one still reads (a block cannot start step s + 2's writes before every block of the
//            group has finished step s + 1, hence step s's reads of that tile).
//   flags    through L2: each block writes its outputs to global memory, fences and sets a flag of its own; the
//            blocks of the group poll their producers' flags, fence, and copy the n values back in. Any grid that
//            fits the GPU at once (a cooperative launch), any group size.
// The cluster's barrier and on-chip writes replace two fences, a flag round trip through L2 and the copy back:
// the flags cost about 5 us a step on an H200 wherever a group has several blocks (BENCHMARKS.md, sixth session).
//
// The protocol is host-device code over the thread's primitives (`Thread`: kernels/device_thread.cuh's on the GPU,
// tests/cpp/simt_emulation.h's fibers on the CPU), so the C++ tests run these very functions.
#pragma once

#include "activation.h"

namespace torch_local_rnn {

// The most blocks one cluster may hold: 8 portably, 16 on Hopper with the kernel's non-portable attribute (the
// planner asks the device how many such clusters it holds at once; none means the shape does not fit).
constexpr int kMaxPortableCluster = 8;
constexpr int kMaxCluster = 16;

// ---- cluster exchange ----------------------------------------------------------------------------------------

// The address of `local` (this block's shared memory) in the block of cluster rank `rank`; in a group of one block,
// `local` itself.
template <typename T, typename Thread>
TLR_HOST_DEVICE T* cluster_peer(Thread& thread, T* local, int rank, int group_blocks) {
  return group_blocks > 1 ? thread.cluster_map(local, rank) : local;
}

// The step's barrier in two halves, so that work which does not depend on the exchange (the next step's own
// inputs) runs between them: arrive releases this thread's writes (local and remote) to the group, wait acquires
// every other thread's. Every thread of every block of the group calls both, once per step.
template <typename Thread>
TLR_HOST_DEVICE void group_arrive(Thread& thread, int group_blocks) {
  if (group_blocks > 1) {
    thread.cluster_arrive();
  } else {
    thread.sync_block();
  }
}

template <typename Thread>
TLR_HOST_DEVICE void group_wait(Thread& thread, int group_blocks) {
  if (group_blocks > 1) thread.cluster_wait();
}

// ---- flags exchange ------------------------------------------------------------------------------------------

// Unsigned values apart from one flag to the next: 128 bytes, one L2 line each, so pollers of different producers
// do not queue on one address.
constexpr int kFlagStride = 32;

// Waits until the row_blocks producers of this block's stream group (flags[0], flags[kFlagStride], ...) have
// each reached `step`: one thread per producer polls; each fences after seeing it (acquire), then the barrier.
template <typename Thread>
TLR_HOST_DEVICE void wait_for_producers(Thread& thread, const unsigned* flags, int row_blocks, unsigned step) {
  for (int r = thread.thread(); r < row_blocks; r += thread.threads()) {
    thread.wait_flag(flags + r * kFlagStride, step);
    thread.fence();
  }
  thread.sync_block();
}

// After every thread's stores of step s: make them visible to the grid (the barrier orders the block's stores
// before thread 0's fence), then publish s + 1 in this block's own flag.
template <typename Thread>
TLR_HOST_DEVICE void signal_done(Thread& thread, unsigned* flag, unsigned step_done) {
  thread.sync_block();
  if (thread.thread() == 0) {
    thread.fence();
    thread.set_flag(flag, step_done);
  }
}

}  // namespace torch_local_rnn
