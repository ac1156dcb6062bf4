// The GPU side of online_learn's rule table (mirror of cpu/online_step_cpu.h's run_online_call):
// builds the network view and the activity workspace and launches the persistent online kernel
// (kernels/online_rule.cuh) with the rule make_rule(scalar_t{}) returns. The rule's buffers are
// allocated by the caller before this call; nothing is allocated inside the time loop.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../common/online_rule.h"
#include "../kernels/online_rule.cuh"

namespace torch_local_rnn {

template <typename MakeRule>
void run_online_call(const OnlineCall& c, MakeRule&& make_rule) {
  const c10::cuda::CUDAGuard guard(c.x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const OnlineBuffers buffers = allocate_online_buffers(c);
  AT_DISPATCH_FLOATING_TYPES(c.x.scalar_type(), "online_learn", [&] {
    auto rule = make_rule(scalar_t{});
    using Rule = decltype(rule);
    kernels::OnlineRuleParams<scalar_t, Rule> p{make_online_net<scalar_t>(c, buffers), rule, c.x.data_ptr<scalar_t>(),
                                                c.y.data_ptr<scalar_t>(), c.hidden.data_ptr<scalar_t>(),
                                                c.losses.data_ptr<scalar_t>(), buffers.workspace.data_ptr<scalar_t>(),
                                                c.args.T, false, false};
    kernels::launch_online_rule(p, stream);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace torch_local_rnn
