// The online kernel over a whole cooperative grid (docs/design.md §3.7): run_online_steps under GridExec
// (online_grid_step.cuh), for networks whose phases are too wide for one block. Unlike the block kernel
// (online_rule.cuh) nothing is cached in shared memory: the activity lives in the global workspace and the
// weights stay in global memory, where every block reads what the others wrote after each grid barrier.
// The grid is what is resident at once (occupancy x SMs; the grid barrier needs every block resident, which
// only cudaLaunchCooperativeKernel guarantees, failing rather than deadlocking), capped by the step's width:
// more blocks than the widest phase can use would only make each barrier slower.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../common/online_extent.h"
#include "online_grid_step.cuh"
#include "online_rule.cuh"

namespace torch_local_rnn {
namespace kernels {

// Below this many elements in a step's widest phase (online_grid_items) the `auto` path keeps the one-block
// kernel: such a phase is a few passes of one block's threads, where a block barrier (~0.1 us) beats a grid
// barrier (~1-3 us), and a step has ten or more barriers; above it one SM's bandwidth and arithmetic are the
// limit (docs/design.md §3.7). 2^18 puts n = 128, B = 16 (B n m = 16 x 128 x 129 or more) on the grid and the
// papers' n = 32, B = 1 (about 10^3) on the block.
constexpr int64_t kGridOnlineMinItems = int64_t(1) << 18;

// At least this many blocks of the grid kernel per SM: caps its registers (65536 / (256 x 2) = 128 per
// thread), so that the memory-bound trace phases keep enough loads in flight.
constexpr int kGridMinBlocksPerSm = 3;

// Exec: GridExec, or GridExecPlain for a call without options (online_grid_step.cuh).
template <typename Exec, typename T, typename Rule>
__global__ void __launch_bounds__(kOnlineThreads, kGridMinBlocksPerSm)
    online_rule_grid_kernel(OnlineRuleParams<T, Rule> p) {
  run_online_steps<Exec>(p.net, p.rule, p.x, p.y, p.hidden, p.losses, p.steps,
                         carve_online_activity(p.workspace, p.net.B, p.net.n));
}

struct OnlineGridPlan {
  bool fits = false;
  const char* why = "";
  unsigned int blocks = 0;
};

// The grid for a step whose widest phase has `items` elements on the current device: min(resident blocks,
// blocks for one element per thread), or fits = false (with why) where no cooperative grid can run.
template <typename Exec, typename T, typename Rule>
OnlineGridPlan plan_online_grid(int64_t items) {
  OnlineGridPlan plan;
  DeviceLimits device;
  if (const char* why = current_device_limits(device)) {
    plan.why = why;
    return plan;
  }
  const int sms = device.sms;
  if (!device.cooperative) {
    plan.why = "the device has no cooperative launch";
    return plan;
  }
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, online_rule_grid_kernel<Exec, T, Rule>, kOnlineThreads,
                                                    0) !=
          cudaSuccess ||
      per_sm < 1) {
    cudaGetLastError();
    plan.why = "no block of the grid kernel fits on an SM";
    return plan;
  }
  const int64_t resident = static_cast<int64_t>(per_sm) * sms;
  const int64_t wanted = (items + kOnlineThreads - 1) / kOnlineThreads;
  plan.blocks = static_cast<unsigned int>(wanted < 1 ? 1 : (wanted < resident ? wanted : resident));
  plan.fits = true;
  return plan;
}

// Launches the planned grid on `stream` (no dynamic shared memory); returns the launch's error.
template <typename Exec, typename T, typename Rule>
cudaError_t launch_online_rule_grid(OnlineRuleParams<T, Rule> p, const OnlineGridPlan& plan, cudaStream_t stream) {
  p.activity_in_shared = false;
  p.weights_in_shared = false;
  void* args[] = {&p};
  return cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(online_rule_grid_kernel<Exec, T, Rule>),
                                     dim3(plan.blocks), dim3(kOnlineThreads), args, 0, stream);
}

}  // namespace kernels
}  // namespace torch_local_rnn
