// leaky_rnn_rule_backward on one backend, shared by cpu/rule_backward_cpu.cpp and
// cuda/rule_backward_cuda.cu: the checks, then the rule's kernel from the backend's table `Rules`.
// A rule that only the other backend's table `Others` has says so instead of listing the names.
#pragma once

#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/core/Tensor.h>

#include <string>

#include "checks.h"
#include "rule_options.h"
#include "sequence_rule.h"

namespace torch_local_rnn {

template <typename Rules, typename Others>
BackwardResult rule_backward_impl(const char* backend, const at::Tensor& grad_output, const at::Tensor& x,
                                  const at::Tensor& h0, const at::Tensor& weight_hh, const at::Tensor& weight_ih,
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
  TORCH_CHECK(Rules::has(name) || !Others::has(name), op, ": rule '", name, "' has no ", backend,
              " kernel in this build; run it on the other device");
  const SequenceRuleFn fn = Rules::get(name, op, backend);
  const at::Tensor g = grad_output.contiguous(), xc = x.contiguous(), h0c = h0.contiguous();
  const at::Tensor w = weight_hh.contiguous(), u = weight_ih.contiguous(), out = output.contiguous(),
                   d = dphi.contiguous();
  return fn(SequenceArgs{g, xc, h0c, w, u, out, d, alpha, rule_options, rule_tensors});
}

}  // namespace torch_local_rnn
