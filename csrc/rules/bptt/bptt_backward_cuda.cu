// Exact BPTT on the GPU (docs/algorithms.md §1, §4.3 step 1): the shared plan (common/exact_sequence.h),
// its per-step GEMM on cuBLAS, with one fused pointwise kernel per step (rules/bptt/bptt_pointwise.cuh).
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../../common/exact_sequence.h"
#include "bptt_pointwise.cuh"

namespace torch_local_rnn {
namespace {

BackwardResult bptt_backward_cuda(const SequenceArgs& a) {
  const c10::cuda::CUDAGuard guard(a.x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int64_t Bn = a.x.size(1) * a.weight_hh.size(0);
  return bptt_backward(a, [&](int64_t t, const at::Tensor& credit, at::Tensor& delta, const at::Tensor& recurrent,
                              double carry) {
    AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_bptt_backward", [&] {
      kernels::BpttStepParams<scalar_t> p{};
      p.delta = delta.data_ptr<scalar_t>();
      p.recurrent = recurrent.data_ptr<scalar_t>();
      p.count = Bn;
      p.alpha = static_cast<scalar_t>(a.alpha);
      p.credit = credit.data_ptr<scalar_t>();
      p.grad = a.grad_output.data_ptr<scalar_t>() + t * Bn;
      p.dphi = a.dphi.data_ptr<scalar_t>() + t * Bn;
      p.carry = static_cast<scalar_t>(carry);
      kernels::launch_bptt_step(p, stream);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
}

const bool registered = CudaSequenceRules::add("bptt", &bptt_backward_cuda);

}  // namespace
}  // namespace torch_local_rnn
