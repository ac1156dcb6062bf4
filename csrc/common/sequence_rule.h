// The sequence-form kernels of the rules routed through leaky_rnn_rule_backward: one entry per
// rule per backend, added from the rule's own file (common/rule_registry.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include "rule_options.h"
#include "rule_registry.h"
#include "weight_grads.h"

namespace torch_local_rnn {

// The saved forward of leaky_rnn and dL/da_t; every tensor already checked.
struct SequenceArgs {
  const at::Tensor &grad_output, &x, &h0, &weight_hh, &weight_ih, &output, &dphi;
  double alpha;
  const RuleOptions& options;  // parsed once at the op boundary
  at::TensorList tensors;  // the rule's read-only inputs (rule_tensors), unchecked: the rule checks them
};

using SequenceRuleFn = BackwardResult (*)(const SequenceArgs&);
struct CpuSequenceTag {};
struct CudaSequenceTag {};
using CpuSequenceRules = RuleTable<SequenceRuleFn, CpuSequenceTag>;
using CudaSequenceRules = RuleTable<SequenceRuleFn, CudaSequenceTag>;

// The one-step (no temporal credit) gradients of the inputs every local rule passes down:
// X_t = alpha phi'(h_t) (.) g_t, dx_t = X_t W_ih, dL/da_0 = (1 - alpha) g_1 + X_1 W_hh.
// Returns (grad_x, grad_h0).
std::pair<at::Tensor, at::Tensor> instantaneous_input_grads(const SequenceArgs& a);

// A rule's result from its recurrent gradient G (n, n + I + 1) = [G_hh | G_ih | g_b].
BackwardResult result_from_gradient(const SequenceArgs& a, const at::Tensor& gradient);

// output_only's sequence form (docs/algorithms.md §3.1): G = 0, with the one-step input gradients.
BackwardResult zero_recurrent_backward(const SequenceArgs& a);

// A rule's result from its per-step credit C_t = alpha phi'(h_t) (.) c_t, shape (T, B, n).
BackwardResult result_from_credit(const SequenceArgs& a, const at::Tensor& credit);

}  // namespace torch_local_rnn
