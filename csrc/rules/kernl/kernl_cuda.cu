// KeRNL on the GPU (docs/algorithms.md §3.7, v2020 semantics), mirror of rules/kernl/kernl_cpu.cpp. The checks
// and the sequence form's GEMMs are shared (rules/kernl/kernl.h); what is per backend is
//   online:   the shared persistent single-block kernel with KeRNL's seven phases
//             (rules/kernl/kernl_online.cuh), B-stream scratch allocated here before the launch;
//   sequence: the reverse-time filter c~_t = A^T g_t + k (.) c~_{t+1}, one thread per (b, i)
//             (rules/kernl/kernl_filter.cuh), between the shared GEMMs.
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernl.h"
#include "kernl_filter.cuh"
#include "kernl_online.cuh"
#include "../../cuda/online_cuda.h"

namespace torch_local_rnn {
namespace {

BackwardResult kernl_backward_cuda(const SequenceArgs& a) {
  return kernl_backward(a, [&](const at::Tensor& credit, const at::Tensor& k) {
    const c10::cuda::CUDAGuard guard(credit.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES(credit.scalar_type(), "leaky_rnn_rule_backward", [&] {
      kernels::KernlFilterParams<scalar_t> p{};
      p.credit = credit.data_ptr<scalar_t>();
      p.kernel = k.data_ptr<scalar_t>();
      p.steps = credit.size(0);
      p.count = credit.size(1) * credit.size(2);
      p.n = credit.size(2);
      kernels::launch_kernl_filter(p, stream);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
}

void kernl_online_cuda(const OnlineCall& c) {
  const KernlOnlineInputs in = check_kernl_online(c);
  const KernlOptions& o = in.options;
  const int64_t Bn = c.args.B * c.args.n;
  const c10::cuda::CUDAGuard guard(c.x.device());
  at::Tensor work = at::empty({3 * Bn}, c.x.options());  // moved, eps, A^T eps: (B, n) each
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    auto p = [&](size_t s) { return c.state[s].data_ptr<scalar_t>(); };
    scalar_t* w = work.data_ptr<scalar_t>();
    kernels::KernlOnline<scalar_t> rule{};
    rule.trace = p(0);
    rule.A = p(1);
    rule.rates = p(2);
    rule.omega = p(3);
    rule.gamma = p(4);
    rule.zeta = p(5);
    rule.perturbed = p(6);
    rule.count = p(7);
    rule.noise = in.noise.data_ptr<scalar_t>();
    rule.sigma = static_cast<scalar_t>(o.sigma);
    rule.version = o.version;
    rule.learned_alpha_e = o.learned_alpha_e;
    rule.lr = static_cast<scalar_t>(o.lr);
    rule.reset_interval = o.reset_interval;
    rule.moved = w;
    rule.eps = w + Bn;
    rule.ate = w + 2 * Bn;
    rule.rec_grad = rec_grad_ptr<scalar_t>(c);
    return rule;
  });
}

const bool registered = CudaSequenceRules::add("kernl", &kernl_backward_cuda) &&
                        CudaOnlineRules::add("kernl", &kernl_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
