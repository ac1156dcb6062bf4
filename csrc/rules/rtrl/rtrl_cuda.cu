// RTRL on the GPU (docs/algorithms.md §3.2, mirror of rules/rtrl/rtrl_cpu.cpp): M_t = J_t M_{t-1} + Mbar_t per
// stream, G_ij = sum_k q_{t,k} M_t[k, i*m + j]. Both forms run the whole time recursion on the
// GPU, one thread per column of M (rules/rtrl/rtrl_online.cuh says why that needs no barrier):
//  - online: a phase of the shared persistent one-block kernel (run_online_call);
//  - sequence: one launch over the B * n * m columns for all T steps, then sum_b of the
//    per-stream partial gradients (B, n, m) and the shared result_from_gradient.
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/sum.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../../common/rule_options.h"
#include "../../common/sequence_rule.h"
#include "rtrl_online.cuh"
#include "../../cuda/online_cuda.h"

namespace torch_local_rnn {
namespace {

BackwardResult rtrl_backward_cuda(const SequenceArgs& a) {
  const int64_t T = a.x.size(0), B = a.x.size(1), I = a.x.size(2), n = a.weight_hh.size(0), m = n + I + 1;
  const c10::cuda::CUDAGuard guard(a.x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  // Two slices of M per stream (ping-pong: J_t M reads the whole old column) and one gradient
  // partial per stream, so no two threads ever write the same entry.
  at::Tensor workspace = at::empty({2, B, n, n * m}, a.x.options());
  at::Tensor partial = at::empty({B, n, m}, a.x.options());
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
    kernels::RtrlSequenceParams<scalar_t> p{};
    p.influence = workspace.data_ptr<scalar_t>();
    p.scratch = p.influence + B * n * n * m;
    p.partial = partial.data_ptr<scalar_t>();
    p.weight_hh = a.weight_hh.data_ptr<scalar_t>();
    p.x = a.x.data_ptr<scalar_t>();
    p.h0 = a.h0.data_ptr<scalar_t>();
    p.output = a.output.data_ptr<scalar_t>();
    p.dphi = a.dphi.data_ptr<scalar_t>();
    p.grad = a.grad_output.data_ptr<scalar_t>();
    p.steps = T;
    p.B = B;
    p.n = n;
    p.I = I;
    p.alpha = static_cast<scalar_t>(a.alpha);
    p.alpha_m = static_cast<scalar_t>(immediate_alpha(a.options, a.alpha));
    kernels::launch_rtrl_sequence(p, stream);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return result_from_gradient(a, at::sum(partial, {0}));
}

void rtrl_online_cuda(const OnlineCall& c) {
  const int64_t n = c.args.n, m = n + c.args.I + 1;
  at::Tensor scratch = at::empty({n * m + n * n * m}, c.x.options());  // G (n, m), then tmp (n, n*m)
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    scalar_t* s = scratch.data_ptr<scalar_t>();
    return kernels::RtrlInfluence<scalar_t>{c.state[0].data_ptr<scalar_t>(), s + n * m, s, rec_grad_ptr<scalar_t>(c),
                                            static_cast<scalar_t>(immediate_alpha(c.options, c.alpha))};
  });
}

const bool registered = CudaSequenceRules::add("rtrl", &rtrl_backward_cuda) &&
                        CudaOnlineRules::add("rtrl", &rtrl_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
