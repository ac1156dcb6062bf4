// leaky_rnn_rule_backward on the CPU: the shared checks and table lookup
// (common/rule_backward_impl.h); each rule's kernel lives in cpu/<rule>_cpu.cpp.
#include <torch/library.h>

#include "../common/rule_backward_impl.h"

namespace torch_local_rnn {
namespace {

BackwardResult leaky_rnn_rule_backward_cpu(const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0,
                                           const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                           const at::Tensor& output, const at::Tensor& dphi, double alpha,
                                           c10::string_view rule, c10::ArrayRef<double> rule_options,
                                           at::TensorList rule_tensors) {
  return rule_backward_impl<CpuSequenceRules, CudaSequenceRules>("CPU", grad_output, x, h0, weight_hh, weight_ih, output,
                                                                 dphi, alpha, rule, rule_options, rule_tensors);
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("leaky_rnn_rule_backward", &leaky_rnn_rule_backward_cpu); }

}  // namespace torch_local_rnn
