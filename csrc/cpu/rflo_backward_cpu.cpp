// RFLO over a window with frozen weights, in GEMM form (docs/algorithms.md §3.6, docs/design.md §3.3 (d)).
// The trace B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T (k = trace_alpha, B_0 = 0) and the
// estimate sum_t diag(g_t) B_t exchange sums into
//   Lbar_t = g_t + (1 - k) Lbar_{t+1},   C_t = k phi'(h_t) (.) Lbar_t,
// so no (B, n, m) trace is ever held: a reverse elementwise filter and the shared GEMMs suffice.
// The input and initial-state gradients are the one-step (instantaneous) ones:
//   X_t = alpha phi'(h_t) (.) g_t,  dx_t = X_t W_ih,  dL/da_0 = (1 - alpha) g_1 + X_1 W_hh.
#include <ATen/ATen.h>

#include "../common/checks.h"
#include "../common/sequence_rule.h"
#include "../common/weight_grads.h"
#include "parallel_cpu.h"

namespace torch_local_rnn {
namespace {

// rflo and eprop (k = alpha); the inputs are checked and contiguous (common/rule_backward_impl.h).
BackwardResult rflo_backward_cpu(const SequenceArgs& args) {
  constexpr const char* op = "leaky_rnn_rflo_backward";
  const at::Tensor &x = args.x, &h0 = args.h0, &weight_hh = args.weight_hh, &weight_ih = args.weight_ih,
                   &output = args.output;
  const double alpha = args.alpha, trace_alpha = std::get<RfloOptions>(args.options).trace_alpha;
  const int64_t T = x.size(0), B = x.size(1), n = weight_hh.size(0), N = B * n;
  const at::Tensor &g = args.grad_output, &d = args.dphi;

  at::Tensor credit = at::empty({T, B, n}, x.options());
  at::Tensor input_credit = at::empty({T, B, n}, x.options());
  at::Tensor filtered = at::zeros({N}, x.options());  // Lbar, one scalar per (b, i)
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    const scalar_t a = static_cast<scalar_t>(alpha), k = static_cast<scalar_t>(trace_alpha), decay = 1 - k;
    const scalar_t *gp = g.data_ptr<scalar_t>(), *dp = d.data_ptr<scalar_t>();
    scalar_t *cp = credit.data_ptr<scalar_t>(), *xp = input_credit.data_ptr<scalar_t>();
    scalar_t* lbar = filtered.data_ptr<scalar_t>();
    // Each (b, i) filters independently: parallel over them, time reversed inside each chunk.
    at::parallel_for(0, N, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t o = t * N;
        for (int64_t e = lo; e < hi; ++e) {
          lbar[e] = gp[o + e] + decay * lbar[e];
          cp[o + e] = k * dp[o + e] * lbar[e];
          xp[o + e] = a * dp[o + e] * gp[o + e];
        }
      }
    });
  });
  at::Tensor grad_h0 = at::addmm(g[0], input_credit[0], weight_hh, /*beta=*/1.0 - alpha);
  return make_backward_result(weight_grads_from_credit(credit, input_credit, x, h0, output, weight_ih), grad_h0);
}

const bool registered = CpuSequenceRules::add("rflo", &rflo_backward_cpu) &&
                        CpuSequenceRules::add("eprop", &rflo_backward_cpu);

}  // namespace

}  // namespace torch_local_rnn
