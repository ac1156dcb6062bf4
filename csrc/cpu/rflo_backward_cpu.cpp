// RFLO over a window with frozen weights, in GEMM form (algorithms.md §3.6, engineering.md §3.3d).
// The trace B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T (k = trace_alpha, B_0 = 0) and the
// estimate sum_t diag(g_t) B_t exchange sums into
//   Lbar_t = g_t + (1 - k) Lbar_{t+1},   C_t = k phi'(h_t) (.) Lbar_t,
// so no (B, n, m) trace is ever held: a reverse elementwise filter and the shared GEMMs suffice.
// The input and initial-state gradients are the one-step (instantaneous) ones:
//   X_t = alpha phi'(h_t) (.) g_t,  dx_t = X_t W_ih,  dL/da_0 = (1 - alpha) g_1 + X_1 W_hh.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../common/checks.h"
#include "../common/weight_grads.h"
#include "parallel_cpu.h"

namespace torch_local_rnn {
namespace {

BackwardResult leaky_rnn_rflo_backward_cpu(const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0,
                                           const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                           const at::Tensor& output, const at::Tensor& dphi, double alpha,
                                           double trace_alpha) {
  constexpr const char* op = "leaky_rnn_rflo_backward";
  // These ops are not differentiable themselves: keep the ATen calls inside out of autograd
  // even when called directly with tensors that require grad.
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  check_backward_args(op, grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha);
  check_rate(trace_alpha, op, "trace_alpha");
  const int64_t T = x.size(0), B = x.size(1), n = weight_hh.size(0), N = B * n;
  const at::Tensor g = grad_output.contiguous(), d = dphi.contiguous();

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

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("leaky_rnn_rflo_backward", &leaky_rnn_rflo_backward_cpu); }

}  // namespace torch_local_rnn
