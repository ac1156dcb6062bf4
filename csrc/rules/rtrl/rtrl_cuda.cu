// RTRL on the GPU (docs/algorithms.md §3.2): online, the shared step (rules/rtrl/rtrl_step.h) run by the
// policy of the kernel run_online_call picks (cuda/online_cuda.h: one persistent block, or a cooperative grid
// whose tiled product carries the influence update at larger n, docs/design.md §3.7);
// in sequence form, the whole-grid kernel of rules/rtrl/rtrl_sequence.cuh, then sum_b of its per-stream
// partial gradients (B, n, m).
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/sum.h>

#include "../../cuda/online_cuda.h"
#include "rtrl_glue.h"
#include "rtrl_sequence.cuh"

namespace torch_local_rnn {
namespace {

BackwardResult rtrl_backward_cuda(const SequenceArgs& a) {
  const int64_t B = a.x.size(1), n = a.weight_hh.size(0), m = n + a.x.size(2) + 1;
  const c10::cuda::CUDAGuard guard(a.x.device());
  at::Tensor workspace = at::empty({2, B, n, n * m}, a.x.options());  // M's two ping-pong slices per stream
  at::Tensor partial = at::empty({B, n, m}, a.x.options());
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
    scalar_t* ws = workspace.data_ptr<scalar_t>();
    const kernels::RtrlSequenceParams<scalar_t> p{make_rtrl_sequence<scalar_t>(a), ws, ws + B * n * n * m,
                                                  partial.data_ptr<scalar_t>()};
    kernels::launch_rtrl_sequence(p, c10::cuda::getCurrentCUDAStream());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return result_from_gradient(a, at::sum(partial, {0}));
}

void rtrl_online_cuda(const OnlineCall& c) {
  at::Tensor scratch = at::empty({rtrl_online_scratch_numel(c.args)}, c.x.options());
  run_online_call(c, rule_buffers(scratch), [&](auto zero, auto exec) {
    using scalar_t = decltype(zero);
    return make_rtrl_influence<decltype(exec)>(c, scratch.data_ptr<scalar_t>());
  });
}

const bool registered = CudaSequenceRules::add("rtrl", &rtrl_backward_cuda) &&
                        CudaOnlineRules::add("rtrl", &rtrl_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
