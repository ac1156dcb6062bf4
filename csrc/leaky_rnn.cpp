// leaky_rnn below autograd (inference, no_grad, or after the Autograd kernel): the shared forward,
// with the rule validated so a bad rule fails the same way with or without grad. One registration
// for every backend (CompositeExplicitAutograd): it only calls other ops.
#include <torch/library.h>

#include "common/checks.h"
#include "common/reduced_precision.h"
#include "common/rule_descriptor.h"
#include "include/torch_local_rnn/ops.h"

namespace torch_local_rnn {
namespace {

at::Tensor leaky_rnn_no_grad(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
                             const at::Tensor& weight_ih, const at::Tensor& bias, double alpha,
                             c10::string_view nonlinearity, c10::string_view rule,
                             c10::ArrayRef<double> rule_options, at::TensorList rule_tensors) {
  if (const auto low = reduced_precision_of("leaky_rnn", x, h0, weight_hh, weight_ih, bias)) {  // §1.3: float32 inside
    return leaky_rnn(x.to(at::kFloat), h0.to(at::kFloat), weight_hh.to(at::kFloat), weight_ih.to(at::kFloat),
                     bias.to(at::kFloat), alpha, nonlinearity, rule, rule_options, widen_rule_tensors(rule_tensors))
        .to(*low);
  }
  check_rule_call(rule, rule_options, alpha, RuleForm::Sequence, "leaky_rnn");
  return std::get<0>(leaky_rnn_forward(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity));
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CompositeExplicitAutograd, m) { m.impl("leaky_rnn", &leaky_rnn_no_grad); }

}  // namespace torch_local_rnn
