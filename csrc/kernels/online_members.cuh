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

// Two builds of the member kernel. Unbounded (1 block of 256 threads per SM: up to 255 registers) the step
// compiled to 233 registers (ptxas -v, sm_90a, RFLO float32): an SM then holds 4 blocks of 64 threads, so
// beyond 4 x SMs members (528 on an H200) the rest waited for a second wave. The capped build is compiled for
// 2 such blocks per SM, at most 65536 / (256 x 2) = 128 registers, so an SM holds 8 blocks of 64 threads
// (1,056 members on an H200), at the price of spills (ptxas: RFLO 2.8 KB of spill loads, DNI 5.8 KB). A cap
// of 64 registers (8 blocks of 128 threads) spilled ~5 KB for RFLO too.
constexpr int kMemberMinBlocksPerSmCapped = 2;

template <typename Exec, typename T, typename Rule, int MinBlocksPerSm>
__global__ void __launch_bounds__(kOnlineThreads, MinBlocksPerSm)
    online_members_kernel(const OnlineRuleParams<T, Rule>* params) {
  OnlineRuleParams<T, Rule> p = params[blockIdx.x];  // this block's own copy (run_online_block's contract)
  run_online_block<Exec>(p);
}

struct MembersLaunch {
  bool capped = false;
  int threads = kOnlineThreads;
};

// The build and the threads per member block: the unbounded build with the most of 256, 128, 64 threads at
// which every member's block is resident at once (occupancy x SMs, with the member's shared memory), else the
// capped build likewise, else the capped build with 64. A member's arithmetic depends on neither (online_step.cuh:
// each element, each sums row is one thread's or one warp's, in a fixed order, whatever the block's size;
// registers change no value), only its speed: a wide block shortens one member's step and spills cost, while
// blocks left waiting for a free SM double the run. 1,024 papers'-size members (n = 32, B = 1) on an H200 fit
// only the capped build at 64 threads.
template <typename Exec, typename T, typename Rule>
MembersLaunch plan_online_members(int64_t members, size_t shared_bytes) {
  MembersLaunch plan;
  DeviceLimits device;
  if (current_device_limits(device) != nullptr) return plan;
  for (const bool capped : {false, true}) {
    const void* kernel = capped
                             ? reinterpret_cast<const void*>(
                                   online_members_kernel<Exec, T, Rule, kMemberMinBlocksPerSmCapped>)
                             : reinterpret_cast<const void*>(online_members_kernel<Exec, T, Rule, 1>);
    for (int threads = kOnlineThreads; threads >= 64; threads /= 2) {
      int per_sm = 0;
      if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, shared_bytes) != cudaSuccess) {
        cudaGetLastError();
        continue;
      }
      if (static_cast<int64_t>(per_sm) * device.sms >= members) return {capped, threads};
    }
  }
  return {true, 64};
}

// Runs `members` members whose params (prepared by prepare_online_block, which returned shared_bytes, the same
// for all) are in device memory at `params`, as `forced` says or, when null, as the planner does; one launch per
// 2^31 - 1 members (gridDim.x's bound). Returns the first launch error.
template <typename Exec, typename T, typename Rule>
cudaError_t launch_online_members(const OnlineRuleParams<T, Rule>* params, int64_t members, size_t shared_bytes,
                                  cudaStream_t stream, const MembersLaunch* forced = nullptr) {
  const MembersLaunch plan = forced != nullptr ? *forced : plan_online_members<Exec, T, Rule>(members, shared_bytes);
  for (int64_t first = 0; first < members; first += kMaxGridBlocks) {
    const int64_t count = members - first < kMaxGridBlocks ? members - first : kMaxGridBlocks;
    const unsigned int blocks = static_cast<unsigned int>(count);
    if (plan.capped) {
      online_members_kernel<Exec, T, Rule, kMemberMinBlocksPerSmCapped>
          <<<blocks, plan.threads, shared_bytes, stream>>>(params + first);
    } else {
      online_members_kernel<Exec, T, Rule, 1><<<blocks, plan.threads, shared_bytes, stream>>>(params + first);
    }
    const cudaError_t error = cudaGetLastError();
    if (error != cudaSuccess) return error;
  }
  return cudaSuccess;
}

}  // namespace kernels
}  // namespace torch_local_rnn
