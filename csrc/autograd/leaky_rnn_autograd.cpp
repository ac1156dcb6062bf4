// Autograd for leaky_rnn, registered in C++ so gradients work from Python, TorchScript and
// LibTorch alike (torchvision's csrc/ops/autograd pattern). The forward runs the plain
// forward op below autograd; the backward calls the registered backward op of the rule, so
// BPTT and every local rule share one forward pass and differ only in the credit they assign.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../common/rule_options.h"
#include "../common/sequence_rule.h"
#include "../include/torch_local_rnn/ops.h"

namespace torch_local_rnn {
namespace {

class LeakyRnnFunction : public torch::autograd::Function<LeakyRnnFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& h0,
                            const at::Tensor& weight_hh, const at::Tensor& weight_ih, const at::Tensor& bias,
                            double alpha, c10::string_view nonlinearity, c10::string_view rule,
                            c10::ArrayRef<double> rule_options, at::TensorList rule_tensors) {
    const SequenceRuleConfig config = parse_sequence_rule(rule, rule_options, alpha, "leaky_rnn");
    // Fail at the forward, not at the backward after a whole sequence, when the rule's sequence
    // kernel exists on the CPU only.
    const std::string name(rule);
    TORCH_CHECK(config.rule != SequenceRule::Local || !x.is_cuda() || CudaSequenceRules::has(name) ||
                    !CpuSequenceRules::has(name),
                "leaky_rnn: rule '", name, "' has no CUDA kernel in this build; run it on CPU tensors");
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, dphi] = leaky_rnn_forward(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity);
    ctx->save_for_backward({x, h0, weight_hh, weight_ih, output, dphi});
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["rule"] = static_cast<int64_t>(config.rule);
    ctx->saved_data["trace_alpha"] = config.trace_alpha;
    ctx->saved_data["rule_name"] = std::string(rule);
    ctx->saved_data["rule_options"] = std::vector<double>(rule_options.begin(), rule_options.end());
    ctx->saved_data["rule_tensors"] = rule_tensors.vec();  // read-only inputs (noise draws, rates): not differentiated
    return output;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &h0 = saved[1], &weight_hh = saved[2], &weight_ih = saved[3],
                     &output = saved[4], &dphi = saved[5];
    at::Tensor grad = grad_outputs[0].defined() ? grad_outputs[0] : at::zeros_like(output);
    const double alpha = ctx->saved_data["alpha"].toDouble();
    const auto rule = static_cast<SequenceRule>(ctx->saved_data["rule"].toInt());
    std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> g;
    if (rule == SequenceRule::Bptt) {
      g = leaky_rnn_bptt_backward(grad, x, h0, weight_hh, weight_ih, output, dphi, alpha);
    } else if (rule == SequenceRule::Rflo) {
      g = leaky_rnn_rflo_backward(grad, x, h0, weight_hh, weight_ih, output, dphi, alpha,
                                  ctx->saved_data["trace_alpha"].toDouble());
    } else {
      const std::vector<double> options = ctx->saved_data["rule_options"].toDoubleVector();
      const std::vector<at::Tensor> rule_tensors = ctx->saved_data["rule_tensors"].toTensorVector();
      g = leaky_rnn_rule_backward(grad, x, h0, weight_hh, weight_ih, output, dphi, alpha,
                                  ctx->saved_data["rule_name"].toStringRef(), options, rule_tensors);
    }
    auto [grad_x, grad_h0, grad_weight_hh, grad_weight_ih, grad_bias] = std::move(g);
    // No gradient for alpha, nonlinearity, rule, rule_options, nor for each of the rule_tensors.
    torch::autograd::variable_list grads = {grad_x, grad_h0, grad_weight_hh, grad_weight_ih, grad_bias,
                                            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    grads.resize(grads.size() + ctx->saved_data["rule_tensors"].toTensorVector().size());
    return grads;
  }
};

at::Tensor leaky_rnn_autograd(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
                              const at::Tensor& weight_ih, const at::Tensor& bias, double alpha,
                              c10::string_view nonlinearity, c10::string_view rule,
                              c10::ArrayRef<double> rule_options, at::TensorList rule_tensors) {
  return LeakyRnnFunction::apply(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity, rule, rule_options,
                                 rule_tensors);
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, Autograd, m) { m.impl("leaky_rnn", &leaky_rnn_autograd); }

}  // namespace torch_local_rnn
