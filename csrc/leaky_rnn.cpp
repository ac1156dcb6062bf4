// leaky_rnn below autograd (inference, no_grad, or after the Autograd kernel): the shared
// forward, with the rule validated so a bad rule fails the same way with or without grad.
#include <torch/library.h>

#include "common/rule_options.h"
#include "include/torch_local_rnn/ops.h"

namespace torch_local_rnn {
namespace {

at::Tensor leaky_rnn_no_grad(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
                             const at::Tensor& weight_ih, const at::Tensor& bias, double alpha,
                             c10::string_view nonlinearity, c10::string_view rule,
                             c10::ArrayRef<double> rule_options, at::TensorList /*rule_tensors*/) {
  parse_sequence_rule(rule, rule_options, alpha, "leaky_rnn");
  return std::get<0>(leaky_rnn_forward(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity));
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("leaky_rnn", &leaky_rnn_no_grad); }
#ifdef WITH_CUDA
TORCH_LIBRARY_IMPL(torch_local_rnn, CUDA, m) { m.impl("leaky_rnn", &leaky_rnn_no_grad); }
#endif

}  // namespace torch_local_rnn
