// RFLO and e-prop over a window with frozen weights on the GPU (docs/algorithms.md §3.6): the shared GEMM
// form (common/exact_sequence.h) with one launch of the reverse-time filter (rules/rflo/rflo_filter.cuh):
//   C_t = k phi'(h_t) (.) Lbar_t,  Lbar_t = g_t + (1 - k) Lbar_{t+1},   X_t = alpha phi'(h_t) (.) g_t.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../../common/exact_sequence.h"
#include "rflo_filter.cuh"

namespace torch_local_rnn {
namespace {

BackwardResult rflo_backward_cuda(const SequenceArgs& args) {
  const c10::cuda::CUDAGuard guard(args.x.device());
  return rflo_backward(args, [&](at::Tensor& credit, at::Tensor& input_credit, double trace_alpha) {
    AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "leaky_rnn_rflo_backward", [&] {
      kernels::RfloFilterParams<scalar_t> p{};
      p.credit = credit.data_ptr<scalar_t>();
      p.input_credit = input_credit.data_ptr<scalar_t>();
      p.grad = args.grad_output.data_ptr<scalar_t>();
      p.dphi = args.dphi.data_ptr<scalar_t>();
      p.steps = args.x.size(0);
      p.count = args.x.size(1) * args.weight_hh.size(0);
      p.alpha = static_cast<scalar_t>(args.alpha);
      p.rate = static_cast<scalar_t>(trace_alpha);
      kernels::launch_rflo_filter(p, c10::cuda::getCurrentCUDAStream());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
}

const bool registered =
    CudaSequenceRules::add("rflo", &rflo_backward_cuda) && CudaSequenceRules::add("eprop", &rflo_backward_cuda);

}  // namespace
}  // namespace torch_local_rnn
