#include "sequence_rule.h"

#include <ATen/ATen.h>

namespace torch_local_rnn {

std::pair<at::Tensor, at::Tensor> instantaneous_input_grads(const SequenceArgs& a) {
  const int64_t T = a.x.size(0), B = a.x.size(1), I = a.x.size(2), n = a.weight_hh.size(0);
  const at::Tensor input_credit = a.alpha * a.dphi * a.grad_output;
  at::Tensor grad_x = at::mm(input_credit.reshape({T * B, n}), a.weight_ih).view({T, B, I});
  at::Tensor grad_h0 = at::addmm(a.grad_output[0], input_credit[0], a.weight_hh, /*beta=*/1.0 - a.alpha);
  return {grad_x, grad_h0};
}

BackwardResult result_from_gradient(const SequenceArgs& a, const at::Tensor& gradient) {
  const int64_t n = a.weight_hh.size(0), I = a.x.size(2);
  auto [grad_x, grad_h0] = instantaneous_input_grads(a);
  return {grad_x, grad_h0, gradient.narrow(1, 0, n).contiguous(), gradient.narrow(1, n, I).contiguous(),
          gradient.select(1, n + I).contiguous()};
}

BackwardResult zero_recurrent_backward(const SequenceArgs& a) {
  const int64_t n = a.weight_hh.size(0), I = a.x.size(2);
  return result_from_gradient(a, at::zeros({n, n + I + 1}, a.x.options()));
}

BackwardResult result_from_credit(const SequenceArgs& a, const at::Tensor& credit) {
  auto [grad_x, grad_h0] = instantaneous_input_grads(a);
  WeightGrads g = weight_grads_from_credit(credit, at::Tensor(), a.x, a.h0, a.output, a.weight_ih);
  return {grad_x, grad_h0, g.grad_weight_hh, g.grad_weight_ih, g.grad_bias};
}

}  // namespace torch_local_rnn
