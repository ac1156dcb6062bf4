#include "weight_grads.h"

#include <ATen/ATen.h>

namespace torch_local_rnn {

WeightGrads weight_grads_from_credit(const at::Tensor& credit, const at::Tensor& input_credit, const at::Tensor& x,
                                     const at::Tensor& h0, const at::Tensor& output, const at::Tensor& weight_ih) {
  const int64_t T = credit.size(0), B = credit.size(1), n = credit.size(2), I = x.size(2);
  const at::Tensor c = credit.reshape({T * B, n});
  // The presynaptic states a_0..a_{T-1} are h0 followed by output[:-1]; two GEMMs avoid a copy.
  at::Tensor grad_weight_hh = at::mm(credit[0].t(), h0);
  if (T > 1) {
    grad_weight_hh.addmm_(credit.narrow(0, 1, T - 1).reshape({(T - 1) * B, n}).t(),
                          output.narrow(0, 0, T - 1).reshape({(T - 1) * B, n}));
  }
  at::Tensor grad_weight_ih = at::mm(c.t(), x.reshape({T * B, I}));
  at::Tensor grad_bias = c.sum(0);
  // Without an input credit the caller forms grad_x itself.
  at::Tensor grad_x = input_credit.defined()
                          ? at::mm(input_credit.reshape({T * B, n}), weight_ih).view({T, B, I})
                          : at::Tensor();
  return {grad_x, grad_weight_hh, grad_weight_ih, grad_bias};
}

}  // namespace torch_local_rnn
