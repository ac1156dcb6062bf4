// The GPU side of online_learn's rule table (mirror of cpu/online_step_cpu.h's run_online_call): builds the
// network view and the activity workspace, picks the kernel (docs/design.md §3.7) and launches it with the
// rule make_rule(scalar_t{}, exec) returns for that kernel's execution policy exec (kernels::BlockExec32, in
// 32 bits where every index of the call fits, else an error; or kernels::GridExec; each with a build without
// the per-call options' paths, ...Plain, for calls that use none; every rule struct is templated on it). The
// rule's buffers are allocated by the caller before this call; nothing is allocated inside the time loop.
//   block: one persistent block (kernels/online_rule.cuh), latency-bound small networks;
//   grid:  a cooperative grid (kernels/online_rule_grid.cuh), networks too wide for one SM;
// chosen per call by TLR_CUDA_ONLINE (common/gpu_paths.h) = auto (unset: grid when the step's widest phase has at least
// kernels::kGridOnlineMinItems elements and the device can run the grid), block or grid (an error where the
// grid cannot run). Inside online_learn_members a block-path member is not launched but handed to the open
// member batch (cuda/online_members_cuda.h), holding the buffers the glue names (rule_buffers).
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include <memory>
#include <tuple>

#include "../common/gpu_paths.h"
#include "../common/online_rule.h"
#include "../kernels/online_rule.cuh"
#include "../kernels/online_rule_grid.cuh"
#include "online_members_cuda.h"

namespace torch_local_rnn {

// What a rule's glue made for its rule beyond the call's own tensors (its scratch, its checked inputs): every
// object whose memory the rule's pointers reach. Passing them to run_online_call says that the glue does
// nothing after the call, so the call may defer the launch into online_learn_members' batch: the batch keeps
// copies of these objects (tensor handles share the storage) until the launch is queued.
template <typename... Held>
struct RuleBuffers {
  std::tuple<const Held&...> refs;
};

template <typename... Held>
RuleBuffers<Held...> rule_buffers(const Held&... held) {
  return {std::tuple<const Held&...>(held...)};
}

namespace online_cuda_detail {

template <typename scalar_t, typename Rule>
kernels::OnlineRuleParams<scalar_t, Rule> rule_params(const OnlineCall& c, const OnlineBuffers& buffers,
                                                      const Rule& rule) {
  return {make_online_net<scalar_t>(c, buffers), rule, c.x.data_ptr<scalar_t>(), c.y.data_ptr<scalar_t>(),
          c.hidden.data_ptr<scalar_t>(), c.losses.data_ptr<scalar_t>(), buffers.workspace.data_ptr<scalar_t>(),
          c.args.T, false, false};
}

// The call's buffers and copies of the glue's objects, for as long as the batch holds the result.
template <typename... Held>
std::shared_ptr<const void> hold(const OnlineBuffers& buffers, const RuleBuffers<Held...>& held) {
  return std::apply(
      [&](const Held&... objects) -> std::shared_ptr<const void> {
        return std::make_shared<const std::tuple<OnlineBuffers, Held...>>(buffers, objects...);
      },
      held.refs);
}

template <typename MakeRule, typename... Held>
void run(const OnlineCall& c, const RuleBuffers<Held...>& held, MakeRule& make_rule) {
  const OnlinePath path = online_path();  // before anything is allocated: a bad value changes nothing
  const c10::cuda::CUDAGuard guard(c.x.device());
  const c10::cuda::CUDAStream stream = c10::cuda::getCurrentCUDAStream();
  const OnlineBuffers buffers = allocate_online_buffers(c);
  AT_DISPATCH_FLOATING_TYPES(c.x.scalar_type(), "online_learn", [&] {
    using GridRule = decltype(make_rule(scalar_t{}, kernels::GridExec{}));
    const int64_t items = kernels::online_grid_items<GridRule>(c.args.B, c.args.n, c.args.I);
    // A call without options runs the kernels' build without their paths (kernels::BlockExec32Plain,
    // GridExecPlain: docs/design.md §3.7), a call with any the full build; the same arithmetic either way.
    const bool plain = plain_online_options(make_online_net<scalar_t>(c, buffers));
    // Launches on the grid under `exec` (GridExec or GridExecPlain); false where the grid cannot run here.
    const auto on_grid = [&](auto exec) {
      using Exec = decltype(exec);
      using Rule = decltype(make_rule(scalar_t{}, exec));
      const kernels::OnlineGridPlan plan = kernels::plan_online_grid<Exec, scalar_t, Rule>(items);
      TORCH_CHECK(plan.fits || path == OnlinePath::Auto, "online_learn (CUDA): TLR_CUDA_ONLINE=grid, but the grid ",
                  "kernel cannot run on this device: ", plan.why, "; unset TLR_CUDA_ONLINE to run the one-block kernel");
      if (!plan.fits) return false;
      const Rule rule = make_rule(scalar_t{}, exec);  // never deferred: one such network fills the GPU by itself
      C10_CUDA_CHECK(kernels::launch_online_rule_grid<Exec>(rule_params<scalar_t>(c, buffers, rule), plan,
                                                            stream.stream()));
      return true;
    };
    if (path == OnlinePath::Grid || (path == OnlinePath::Auto && items >= kernels::kGridOnlineMinItems)) {
      if (plain ? on_grid(kernels::GridExecPlain{}) : on_grid(kernels::GridExec{})) return;
    }
    check_block_indices(kernels::online_index_extent<GridRule>(c.args.B, c.args.n, c.args.I, c.args.O), c.args.B,
                        c.args.n, c.args.I, c.args.O);
    // Launches one block under `exec` (BlockExec32 or BlockExec32Plain), or hands it to the open member batch.
    const auto on_block = [&](auto exec) {
      using Exec = decltype(exec);
      const auto rule = make_rule(scalar_t{}, exec);
      auto p = rule_params<scalar_t>(c, buffers, rule);
      const size_t shared_bytes = kernels::prepare_online_block(p);
      if (OnlineMemberBatch* const batch = OnlineMemberBatch::current()) {
        batch->add<Exec>(p, shared_bytes, stream, hold(buffers, held));  // after make_rule: it may have filled `held`
        return;
      }
      kernels::launch_online_rule<Exec>(p, shared_bytes, stream.stream());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    };
    if (plain) {
      on_block(kernels::BlockExec32Plain{});
    } else {
      on_block(kernels::BlockExec32{});
    }
  });
}

}  // namespace online_cuda_detail

// Every CUDA glue names its buffers (rule_buffers above), so a block-path launch may be deferred into
// online_learn_members' batch.
template <typename MakeRule, typename... Held>
void run_online_call(const OnlineCall& c, const RuleBuffers<Held...>& held, MakeRule&& make_rule) {
  online_cuda_detail::run(c, held, make_rule);
}

}  // namespace torch_local_rnn
