// online_optimizer_step on the CPU (common/optimizer_step_impl.h): apply_optimizer run by the CPU policy.
#include <torch/library.h>

#include "../common/optimizer_step_impl.h"
#include "online_step_cpu.h"

namespace torch_local_rnn {
namespace {

void online_optimizer_step_cpu(const at::Tensor& weight_hh, const at::Tensor& weight_ih, const at::Tensor& bias,
                               const at::Tensor& weight_out, const at::Tensor& bias_out, const at::Tensor& grad,
                               const at::Tensor& grad_out, c10::string_view optimizer, double lr,
                               c10::ArrayRef<double> optimizer_options, const std::optional<at::Tensor>& optimizer_state,
                               int64_t optimizer_steps, double l2) {
  online_optimizer_step_impl(weight_hh, weight_ih, bias, weight_out, bias_out, grad, grad_out, optimizer, lr,
                             optimizer_options, optimizer_state, optimizer_steps, l2,
                             [](const auto& net, const auto& scalars) { apply_optimizer<CpuExec>(net, net.opt, scalars); });
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("online_optimizer_step", &online_optimizer_step_cpu); }

}  // namespace torch_local_rnn
