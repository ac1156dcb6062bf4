// online_optimizer_step on the GPU (common/optimizer_step_impl.h): apply_optimizer run by one block of the
// block policy (kernels/online_step.cuh), the policy online_learn's loop runs it with.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../common/optimizer_step_impl.h"
#include "../kernels/online_step.cuh"

namespace torch_local_rnn {
namespace {

template <typename T>
__global__ void __launch_bounds__(kernels::kOnlineThreads)
    optimizer_step_kernel(OnlineNet<T> net, OptimizerScalars<T> scalars) {
  apply_optimizer<kernels::BlockExec>(net, net.opt, scalars);
}

void online_optimizer_step_cuda(const at::Tensor& weight_hh, const at::Tensor& weight_ih, const at::Tensor& bias,
                                const at::Tensor& weight_out, const at::Tensor& bias_out, const at::Tensor& grad,
                                const at::Tensor& grad_out, c10::string_view optimizer, double lr,
                                c10::ArrayRef<double> optimizer_options, const std::optional<at::Tensor>& optimizer_state,
                                int64_t optimizer_steps, double l2) {
  const c10::cuda::CUDAGuard guard(weight_hh.device());
  online_optimizer_step_impl(weight_hh, weight_ih, bias, weight_out, bias_out, grad, grad_out, optimizer, lr,
                             optimizer_options, optimizer_state, optimizer_steps, l2,
                             [](const auto& net, const auto& scalars) {
                               using T = std::remove_pointer_t<decltype(net.weight_hh)>;
                               optimizer_step_kernel<T><<<1, kernels::kOnlineThreads, 0,
                                                          c10::cuda::getCurrentCUDAStream()>>>(net, scalars);
                               C10_CUDA_KERNEL_LAUNCH_CHECK();
                             });
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CUDA, m) { m.impl("online_optimizer_step", &online_optimizer_step_cuda); }

}  // namespace torch_local_rnn
