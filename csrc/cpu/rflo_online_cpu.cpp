// Online RFLO on the CPU (algorithms.md §3.6, order of §2.1), one trace per stream:
//   B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T,   ahat_t = [a_{t-1}; x_t; 1],
//   G_t = (1/B) sum_b diag(q_{t,b}) B_{t,b},        W <- W - lr G_t   (W = [W_hh | W_ih | b]).
// The trace update, the gradient and the weight update are one pass over each row i of W,
// parallel over rows (each thread owns its rows of W, so no reduction is needed).
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../common/online_checks.h"
#include "online_step_cpu.h"

namespace torch_local_rnn {
namespace {

template <typename scalar_t>
struct RfloRule {
  scalar_t* trace;  // (B, n, n + I + 1)
  scalar_t rate;    // k = trace_alpha

  void step(const OnlineNet<scalar_t>& net, const scalar_t* x, const OnlineActivity<scalar_t>& act) {
    const int64_t B = net.B, n = net.n, I = net.I, m = n + I + 1;
    const scalar_t decay = 1 - rate, step_size = net.lr / B;
    const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / (B * m));
    at::parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        scalar_t* w = net.weight_hh + i * n;
        scalar_t* u = net.weight_ih + i * I;
        for (int64_t b = 0; b < B; ++b) {
          const int64_t r = b * n + i;
          const scalar_t s = rate * act.dphi[r], lq = step_size * act.q[r];
          const scalar_t* ap = act.prev + b * n;
          const scalar_t* xb = x + b * I;
          scalar_t* tr = trace + r * m;
          for (int64_t j = 0; j < n; ++j) {
            tr[j] = decay * tr[j] + s * ap[j];
            w[j] -= lq * tr[j];
          }
          for (int64_t j = 0; j < I; ++j) {
            tr[n + j] = decay * tr[n + j] + s * xb[j];
            u[j] -= lq * tr[n + j];
          }
          tr[n + I] = decay * tr[n + I] + s;
          net.bias[i] -= lq * tr[n + I];
        }
      }
    });
  }
};

at::Tensor rflo_online_cpu(const at::Tensor& x, const at::Tensor& y, const at::Tensor& hidden,
                           const at::Tensor& trace, const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                           const at::Tensor& bias, const at::Tensor& weight_out, const at::Tensor& bias_out,
                           const std::optional<at::Tensor>& feedback, double alpha, double trace_alpha,
                           c10::string_view nonlinearity, c10::string_view loss, double lr, double l2) {
  constexpr const char* op = "rflo_online";
  const OnlineArgs args = check_online_args(op, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out,
                                            feedback, alpha, nonlinearity, loss, lr, l2);
  check_rate(trace_alpha, op, "trace_alpha");
  check_state(op, trace, x, {args.B, args.n, args.n + args.I + 1}, "trace", "(batch, hidden_size, hidden_size + input_size + 1)");

  at::Tensor losses = at::empty({args.T, args.B}, x.options());
  const at::Tensor xc = x.contiguous(), yc = y.contiguous();
  const std::optional<at::Tensor> fb = feedback ? std::optional<at::Tensor>(feedback->contiguous()) : std::nullopt;
  const std::optional<at::Tensor> no_rec_grad;
  run_online_call(OnlineCall{args, xc, yc, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, {}, no_rec_grad,
                             fb, alpha, lr, {}, {}, no_rec_grad, losses},
                  [&](auto zero) {
                    using scalar_t = decltype(zero);
                    return RfloRule<scalar_t>{trace.data_ptr<scalar_t>(), static_cast<scalar_t>(trace_alpha)};
                  });
  return losses;
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("rflo_online", &rflo_online_cpu); }

}  // namespace torch_local_rnn
