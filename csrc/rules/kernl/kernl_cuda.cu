// KeRNL on the GPU (docs/algorithms.md §3.7): the checks, the online step and the sequence form are shared
// (rules/kernl/kernl.h, rules/kernl/kernl_step.h); here the online step runs by the policy of the kernel
// run_online_call picks (cuda/online_cuda.h: one persistent block, or a cooperative grid for large networks),
// and the sequence form's reverse-time filter runs one thread per (b, i) row (rules/kernl/kernl_filter.cuh).
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernl.h"
#include "kernl_filter.cuh"
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
  const c10::cuda::CUDAGuard guard(c.x.device());
  at::Tensor work;
  run_online_call(c, rule_buffers(in, work), [&](auto zero, auto exec) {
    return make_kernl_step<decltype(exec), decltype(zero)>(c, in, work);
  });
}

const bool registered = CudaSequenceRules::add("kernl", &kernl_backward_cuda) &&
                        CudaOnlineRules::add("kernl", &kernl_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
