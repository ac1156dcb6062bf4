// Exact BPTT for the leaky RNN (docs/algorithms.md §1, §4.3 step 1), given g_t = dL/da_t:
//   delta_t = g_t + J_{t+1}^T delta_{t+1},  J_{t+1}^T v = (1 - alpha) v + W_hh^T (alpha phi'(h_{t+1}) (.) v),
//   C_t = alpha phi'(h_t) (.) delta_t,      weight gradients from C (common/weight_grads.h).
// Per step: one GEMM C_{t+1} W_hh into a preallocated buffer and one fused pass; J is never formed.
#include <ATen/ATen.h>

#include "../common/checks.h"
#include "../common/sequence_rule.h"
#include "../common/weight_grads.h"
#include "parallel_cpu.h"

namespace torch_local_rnn {
namespace {

// The inputs are checked and contiguous (common/rule_backward_impl.h).
BackwardResult bptt_backward_cpu(const SequenceArgs& a) {
  constexpr const char* op = "leaky_rnn_bptt_backward";
  const at::Tensor &x = a.x, &h0 = a.h0, &weight_hh = a.weight_hh, &weight_ih = a.weight_ih, &output = a.output;
  const double alpha = a.alpha;
  const int64_t T = x.size(0), B = x.size(1), n = weight_hh.size(0);
  const at::Tensor &g = a.grad_output, &d = a.dphi;

  at::Tensor credit = at::empty({T, B, n}, x.options());
  at::Tensor delta = at::zeros({B, n}, x.options());  // zeros: 0 * garbage may be NaN
  at::Tensor recurrent = at::zeros({B, n}, x.options());  // C_{t+1} W_hh, zero past the last step
  const std::vector<at::Tensor> c = credit.unbind(0);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    const scalar_t rate = static_cast<scalar_t>(alpha), keep = scalar_t(1) - rate;
    scalar_t* dl = delta.data_ptr<scalar_t>();
    const scalar_t* rec = recurrent.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      if (t < T - 1) at::mm_out(recurrent, c[t + 1], weight_hh);
      const scalar_t* gt = g.data_ptr<scalar_t>() + t * B * n;
      const scalar_t* dt = d.data_ptr<scalar_t>() + t * B * n;
      scalar_t* ct = c[t].data_ptr<scalar_t>();
      const scalar_t carry = t < T - 1 ? keep : scalar_t(0);  // delta_T = 0
      at::parallel_for(0, B * n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t k = lo; k < hi; ++k) {
          dl[k] = gt[k] + carry * dl[k] + rec[k];
          ct[k] = rate * dt[k] * dl[k];
        }
      });
    }
  });
  // dL/da_0 = J_1^T delta_1 = (1 - alpha) delta_1 + C_1 W_hh (0-based: delta[0], c[0]).
  at::Tensor grad_h0 = at::addmm(delta, c[0], weight_hh, /*beta=*/1.0 - alpha);
  return make_backward_result(weight_grads_from_credit(credit, credit, x, h0, output, weight_ih), grad_h0);
}

const bool registered = CpuSequenceRules::add("bptt", &bptt_backward_cpu);

}  // namespace

}  // namespace torch_local_rnn
