// Weight gradients from a per-step credit, shared by every sequence-form rule on every device.
// With C_t = alpha_k * phi'(h_t) (.) delta_t for the rule's adjoint delta_t (BPTT: the exact
// credit c_t; RFLO: the reverse-filtered dL/da), the gradients are GEMMs over all T*B rows
// (docs/design.md §3.3 (d), haste's deferred dR GEMM):
//   dW_hh = sum_t C_t^T a_{t-1},  dW_ih = sum_t C_t^T x_t,  db = sum_t sum_b C_t,
//   dx_t  = X_t W_ih  with X_t the credit of the input (C_t for BPTT, the one-step credit for RFLO).
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>

namespace torch_local_rnn {

struct WeightGrads {
  at::Tensor grad_x, grad_weight_hh, grad_weight_ih, grad_bias;
};

WeightGrads weight_grads_from_credit(const at::Tensor& credit, const at::Tensor& input_credit, const at::Tensor& x,
                                     const at::Tensor& h0, const at::Tensor& output, const at::Tensor& weight_ih);

// (grad_x, grad_h0, grad_weight_hh, grad_weight_ih, grad_bias): the return of every backward op.
using BackwardResult = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

inline BackwardResult make_backward_result(WeightGrads g, at::Tensor grad_h0) {
  return {g.grad_x, grad_h0, g.grad_weight_hh, g.grad_weight_ih, g.grad_bias};
}

}  // namespace torch_local_rnn
