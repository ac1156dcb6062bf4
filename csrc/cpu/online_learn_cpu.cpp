// online_learn on the CPU: the shared checks and table lookup (common/online_learn_impl.h).
#include <torch/library.h>

#include "../common/online_learn_impl.h"

namespace torch_local_rnn {
namespace {

at::Tensor online_learn_cpu(c10::string_view rule, const at::Tensor& x, const at::Tensor& y, const at::Tensor& hidden,
                            const at::Tensor& weight_hh, const at::Tensor& weight_ih, const at::Tensor& bias,
                            const at::Tensor& weight_out, const at::Tensor& bias_out, at::TensorList state,
                            const std::optional<at::Tensor>& rec_grad, const std::optional<at::Tensor>& feedback,
                            double alpha, c10::string_view nonlinearity, c10::string_view loss, double lr,
                            c10::ArrayRef<double> rule_options, at::TensorList rule_tensors,
                            const std::optional<at::Tensor>& record, double l2) {
  return online_learn_impl<CpuOnlineRules, CudaOnlineRules>("CPU", rule, x, y, hidden, weight_hh, weight_ih, bias,
                                                            weight_out, bias_out, state, rec_grad, feedback, alpha,
                                                            nonlinearity, loss, lr, rule_options, rule_tensors,
                                                            record, l2);
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("online_learn", &online_learn_cpu); }

}  // namespace torch_local_rnn
