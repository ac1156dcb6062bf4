// online_learn_members' kernel (docs/algorithms.md §2.10, docs/design.md §3.7): block e runs member e's whole
// online loop, exactly the one-block kernel's body (online_rule.cuh's run_online_block) on member e's params,
// so a member's result is bitwise its solo run on the block path. One launch runs every member: the papers'
// networks are latency-bound (a few thousand flops per step, one SM's barrier-to-barrier latency), so E such
// networks fill the GPU only side by side, where a launch per member ran them one after another.
#pragma once

#include <cstdint>

#include "common.cuh"
#include "online_rule.cuh"

namespace torch_local_rnn {
namespace kernels {

// At least this many 256-thread blocks' worth of registers per SM, i.e. at most 65536 / (256 x 2) = 128
// registers a thread. Unbounded, the step compiled to 233 (ptxas -v, sm_90a, RFLO float32): an SM then held
// 4 blocks of 64 threads, so 1,024 members ran in two waves on 132 SMs; at 128 it holds 8 (1,056 resident).
// A cap of 64 would hold 8 blocks of 128 threads, but spills ~5 KB a thread (ptxas: 4,956 bytes of spill
// loads against 128).
constexpr int kMemberMinBlocksPerSm = 2;

template <typename T, typename Rule>
__global__ void __launch_bounds__(kOnlineThreads, kMemberMinBlocksPerSm)
    online_members_kernel(const OnlineRuleParams<T, Rule>* params) {
  OnlineRuleParams<T, Rule> p = params[blockIdx.x];  // this block's own copy (run_online_block's contract)
  run_online_block(p);
}

// Threads per member block: the most of 256, 128, 64 with which every member's block is resident at once
// (occupancy x SMs, with the member's shared memory), else 64. A member's arithmetic does not depend on it
// (online_step.cuh: each element, each sums row is one thread's or one warp's, in a fixed order, whatever
// the block's size), only its speed: a wide block shortens one member's step, while blocks left waiting for
// a free SM would double the run; tiny members (n = 32, B = 1) at E = 1024 fit at 64.
template <typename T, typename Rule>
int online_members_threads(int64_t members, size_t shared_bytes) {
  DeviceLimits device;
  if (current_device_limits(device) != nullptr) return kOnlineThreads;
  const int sms = device.sms;
  for (int threads = kOnlineThreads; threads > 64; threads /= 2) {
    int per_sm = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, online_members_kernel<T, Rule>, threads,
                                                      shared_bytes) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    if (static_cast<int64_t>(per_sm) * sms >= members) return threads;
  }
  return 64;
}

// Runs `members` members whose params (prepared by prepare_online_block, which returned shared_bytes, the same
// for all) are in device memory at `params`; one launch per 2^31 - 1 members (gridDim.x's bound). Returns the
// first launch error.
template <typename T, typename Rule>
cudaError_t launch_online_members(const OnlineRuleParams<T, Rule>* params, int64_t members, size_t shared_bytes,
                                  cudaStream_t stream) {
  const int threads = online_members_threads<T, Rule>(members, shared_bytes);
  for (int64_t first = 0; first < members; first += kMaxGridBlocks) {
    const int64_t count = members - first < kMaxGridBlocks ? members - first : kMaxGridBlocks;
    online_members_kernel<T, Rule><<<static_cast<unsigned int>(count), threads, shared_bytes, stream>>>(params + first);
    const cudaError_t error = cudaGetLastError();
    if (error != cudaSuccess) return error;
  }
  return cudaSuccess;
}

}  // namespace kernels
}  // namespace torch_local_rnn
