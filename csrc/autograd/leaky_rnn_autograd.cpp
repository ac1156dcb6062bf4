// Autograd for leaky_rnn, registered in C++ so gradients work from Python, TorchScript and
// LibTorch alike (torchvision's csrc/ops/autograd pattern). The forward runs the plain
// forward op below autograd; the backward calls leaky_rnn_rule_backward with the rule, so BPTT and
// every local rule share one forward pass and differ only in the credit they assign.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../common/checks.h"
#include "../common/reduced_precision.h"
#include "../common/rule_descriptor.h"
#include "../include/torch_local_rnn/ops.h"

namespace torch_local_rnn {
namespace {

class LeakyRnnFunction : public torch::autograd::Function<LeakyRnnFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& h0,
                            const at::Tensor& weight_hh, const at::Tensor& weight_ih, const at::Tensor& bias,
                            double alpha, c10::string_view nonlinearity, c10::string_view rule,
                            c10::ArrayRef<double> rule_options, at::TensorList rule_tensors) {
    // The rule and its options fail here, not at the backward after a whole sequence.
    check_rule_call(rule, rule_options, alpha, RuleForm::Sequence, "leaky_rnn");
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, dphi] = leaky_rnn_forward(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity);
    std::vector<at::Tensor> saved = {x, h0, weight_hh, weight_ih, output, dphi};
    saved.insert(saved.end(), rule_tensors.begin(), rule_tensors.end());  // read-only inputs: not differentiated
    ctx->save_for_backward(saved);
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["rule"] = std::string(rule);
    ctx->saved_data["rule_options"] = std::vector<double>(rule_options.begin(), rule_options.end());
    return output;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &h0 = saved[1], &weight_hh = saved[2], &weight_ih = saved[3],
                     &output = saved[4], &dphi = saved[5];
    const std::vector<at::Tensor> rule_tensors(saved.begin() + 6, saved.end());
    at::Tensor grad = grad_outputs[0].defined() ? grad_outputs[0] : at::zeros_like(output);
    auto [grad_x, grad_h0, grad_weight_hh, grad_weight_ih, grad_bias] = leaky_rnn_rule_backward(
        grad, x, h0, weight_hh, weight_ih, output, dphi, ctx->saved_data["alpha"].toDouble(),
        ctx->saved_data["rule"].toStringRef(), ctx->saved_data["rule_options"].toDoubleVector(), rule_tensors);
    // No gradient for alpha, nonlinearity, rule, rule_options, nor for each of the rule_tensors.
    torch::autograd::variable_list grads = {grad_x, grad_h0, grad_weight_hh, grad_weight_ih, grad_bias,
                                            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    grads.resize(grads.size() + rule_tensors.size());
    return grads;
  }
};

at::Tensor leaky_rnn_autograd(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
                              const at::Tensor& weight_ih, const at::Tensor& bias, double alpha,
                              c10::string_view nonlinearity, c10::string_view rule,
                              c10::ArrayRef<double> rule_options, at::TensorList rule_tensors) {
  // float16 / bfloat16 (docs/algorithms.md §1.3): differentiable casts around a float32 call, so the gradients
  // reach the reduced-precision parameters through autograd's own cast backward
  if (const auto low = reduced_precision_of("leaky_rnn", x, h0, weight_hh, weight_ih, bias)) {
    return leaky_rnn(x.to(at::kFloat), h0.to(at::kFloat), weight_hh.to(at::kFloat), weight_ih.to(at::kFloat),
                     bias.to(at::kFloat), alpha, nonlinearity, rule, rule_options, widen_rule_tensors(rule_tensors))
        .to(*low);
  }
  return LeakyRnnFunction::apply(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity, rule, rule_options,
                                 rule_tensors);
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, Autograd, m) { m.impl("leaky_rnn", &leaky_rnn_autograd); }

}  // namespace torch_local_rnn
