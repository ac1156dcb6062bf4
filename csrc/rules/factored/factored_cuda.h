// The GPU drivers of the stochastic factored approximations of RTRL (UORO, KF-RTRL, R-KF-RTRL;
// docs/algorithms.md §3.3-3.5), mirror of rules/factored/factored_cpu.h: the same checks (rules/factored/factored_layout.h),
// then the shared device driver (rules/factored/factored.cuh) with the rule's device Stream. Each rule's
// file registers factored_backward_cuda<Stream, layout> and factored_online_cuda<Stream, layout>.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "factored_layout.h"
#include "../../common/rule_options.h"
#include "../../common/sequence_rule.h"
#include "factored.cuh"
#include "../../cuda/online_cuda.h"

namespace torch_local_rnn {

using FactoredLayoutFn = FactoredLayout (*)(int64_t, int64_t);

template <typename scalar_t>
kernels::FactoredCtx<scalar_t> make_factored_ctx(const scalar_t* w_hh, const scalar_t* w_ih, const scalar_t* bias,
                                                 double alpha, double alpha_m, Nonlinearity f, int64_t n, int64_t I,
                                                 const FactoredLayout& L, const FactoredOptions& o) {
  return {w_hh, w_ih, bias, static_cast<scalar_t>(alpha), static_cast<scalar_t>(alpha_m), f, n, I, n + I + 1,
          L.a_size, L.b_cols, o.rho0, o.rho1, o.epsilon};
}

// leaky_rnn_rule_backward's kernel: one block per stream from A = B = 0 (M_0 = 0), each into its
// own partial gradient (B, n, m), summed over streams here.
template <template <typename> class Stream, FactoredLayoutFn Layout>
BackwardResult factored_backward_cuda(const SequenceArgs& a) {
  constexpr const char* op = "leaky_rnn_rule_backward";
  const int64_t T = a.x.size(0), B = a.x.size(1), I = a.x.size(2), n = a.weight_hh.size(0), m = n + I + 1;
  const FactoredLayout L = Layout(n, m);
  const FactoredInputs in = check_factored_sequence(a, L, op);
  // one block per stream: gridDim.x holds at most 2^31 - 1 (a larger B would not launch, or wrap when cast)
  TORCH_CHECK(B <= kernels::kMaxGridBlocks, op, ": the CUDA kernel of the factored rules runs one block per stream, "
              "at most ", kernels::kMaxGridBlocks, " streams, but got batch = ", B);
  const c10::cuda::CUDAGuard guard(a.x.device());
  const int64_t jcols = Stream<float>::jcols(n, m);
  at::Tensor factors = at::zeros({B * (L.a_size + L.b_rows * L.b_cols)}, a.x.options());
  at::Tensor work = at::empty({B * kernels::factored_work_per_stream(n, m, jcols)}, a.x.options());
  at::Tensor partial = at::zeros({B, n, m}, a.x.options());
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), op, [&] {
    scalar_t* f = factors.data_ptr<scalar_t>();
    kernels::FactoredSequenceParams<scalar_t> p{
        make_factored_ctx<scalar_t>(a.weight_hh.data_ptr<scalar_t>(), a.weight_ih.data_ptr<scalar_t>(), nullptr,
                                    a.alpha, immediate_alpha(a.options, a.alpha),
                                    Nonlinearity::Tanh /* read by UORO's epsilon variant only */, n, I, L, in.options),
        a.x.data_ptr<scalar_t>(), a.h0.data_ptr<scalar_t>(), a.output.data_ptr<scalar_t>(),
        a.dphi.data_ptr<scalar_t>(), a.grad_output.data_ptr<scalar_t>(), in.noise.data_ptr<scalar_t>(),
        f, f + B * L.a_size, work.data_ptr<scalar_t>(), partial.data_ptr<scalar_t>(), T, B, L.noise_width, jcols};
    kernels::launch_factored_sequence<scalar_t, Stream>(p, c10::cuda::getCurrentCUDAStream());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return result_from_gradient(a, at::sum(partial, 0));
}

// online_learn's kernel: state = [A (batch, a_size), B (batch, b_rows, b_cols)], updated in place by
// the persistent online block (all B streams in one block).
template <template <typename> class Stream, FactoredLayoutFn Layout>
void factored_online_cuda(const OnlineCall& c) {
  constexpr const char* op = "online_learn";
  const int64_t B = c.args.B, n = c.args.n, I = c.args.I, m = n + I + 1;
  const FactoredLayout L = Layout(n, m);
  const FactoredInputs in = check_factored_online(c, L, op);
  const int64_t jcols = Stream<float>::jcols(n, m);
  at::Tensor work = at::empty({B * kernels::factored_work_per_stream(n, m, jcols) + n * m}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    scalar_t* w = work.data_ptr<scalar_t>();
    const kernels::FactoredStreams<scalar_t> s = kernels::carve_factored(
        c.state[0].data_ptr<scalar_t>(), c.state[1].data_ptr<scalar_t>(), w, B, n, m, jcols, L.noise_width);
    return kernels::FactoredOnline<scalar_t, Stream>{
        // No weight pointers: the rule reads the weights through `net` (they may live in shared memory).
        make_factored_ctx<scalar_t>(nullptr, nullptr, nullptr, c.alpha, immediate_alpha(c.options, c.alpha),
                                    c.args.f, n, I, L, in.options),
        s, in.noise.data_ptr<scalar_t>(), w + B * kernels::factored_work_per_stream(n, m, jcols),
        rec_grad_ptr<scalar_t>(c)};
  });
}

}  // namespace torch_local_rnn
