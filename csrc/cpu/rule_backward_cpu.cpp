// leaky_rnn_rule_backward on the CPU: checks, then the rule's kernel from the table.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../common/checks.h"
#include "../common/rule_options.h"
#include "../common/sequence_rule.h"

namespace torch_local_rnn {
namespace {

BackwardResult leaky_rnn_rule_backward_cpu(const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0,
                                           const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                           const at::Tensor& output, const at::Tensor& dphi, double alpha,
                                           c10::string_view rule, c10::ArrayRef<double> rule_options,
                                           at::TensorList rule_tensors) {
  constexpr const char* op = "leaky_rnn_rule_backward";
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  check_backward_args(op, grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha);
  const std::string name(rule);
  check_sequence_form(name, op);
  check_local_rule_options(name, rule_options, op);
  check_rule_extras(name, rule_tensors.size(), false, op);
  const SequenceRuleFn fn = CpuSequenceRules::get(name, op, "CPU");
  const at::Tensor g = grad_output.contiguous(), xc = x.contiguous(), h0c = h0.contiguous();
  const at::Tensor w = weight_hh.contiguous(), u = weight_ih.contiguous(), out = output.contiguous(),
                   d = dphi.contiguous();
  return fn(SequenceArgs{g, xc, h0c, w, u, out, d, alpha, rule_options, rule_tensors});
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("leaky_rnn_rule_backward", &leaky_rnn_rule_backward_cpu); }

}  // namespace torch_local_rnn
