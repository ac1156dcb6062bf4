// leaky_rnn_rule_backward on one backend, shared by cpu/rule_backward_cpu.cpp and
// cuda/rule_backward_cuda.cu: the checks, then the rule's kernel from the backend's table `Rules`.
// `op` is the name the errors give: leaky_rnn_rule_backward or one of its aliases.
#pragma once

#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/core/Tensor.h>

#include <string>

#include "checks.h"
#include "rule_descriptor.h"
#include "sequence_rule.h"

namespace torch_local_rnn {

template <typename Rules>
BackwardResult rule_backward_impl(const char* backend, const char* op, const at::Tensor& grad_output, const at::Tensor& x,
                                  const at::Tensor& h0, const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                  const at::Tensor& output, const at::Tensor& dphi, double alpha,
                                  c10::string_view rule, c10::ArrayRef<double> rule_options,
                                  at::TensorList rule_tensors) {
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  check_backward_args(op, grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha);
  const RuleDescriptor& descriptor = find_rule(rule, op);
  const RuleOptions options = parse_rule_options(descriptor, rule_options, alpha, RuleForm::Sequence, op);
  check_rule_tensors(descriptor, rule_tensors, op);
  const SequenceRuleFn fn = Rules::get(descriptor.name, op, backend);
  const at::Tensor g = grad_output.contiguous(), xc = x.contiguous(), h0c = h0.contiguous();
  const at::Tensor w = weight_hh.contiguous(), u = weight_ih.contiguous(), out = output.contiguous(),
                   d = dphi.contiguous();
  return fn(SequenceArgs{g, xc, h0c, w, u, out, d, alpha, options, rule_tensors});
}

}  // namespace torch_local_rnn
