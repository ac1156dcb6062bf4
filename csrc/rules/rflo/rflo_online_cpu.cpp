// Online RFLO on the CPU (docs/algorithms.md §3.6, order of §2.1), one trace per stream:
//   B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T,   ahat_t = [a_{t-1}; x_t; 1],
//   G_t = (1/B) sum_b diag(q_{t,b}) B_{t,b},        W <- W - lr G_t   (W = [W_hh | W_ih | b]).
// The trace update, the gradient and the weight update are one pass over each row i of W,
// parallel over rows (each thread owns its rows of W, so no reduction is needed).
#include <ATen/ATen.h>

#include "../../cpu/online_step_cpu.h"

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

// rflo and eprop: state = [trace (B, n, m)], checked by online_learn (csrc/rules/rflo/descriptor.cpp).
void rflo_online_cpu(const OnlineCall& c) {
  const double rate = std::get<RfloOptions>(c.options).trace_alpha;
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    return RfloRule<scalar_t>{c.state[0].data_ptr<scalar_t>(), static_cast<scalar_t>(rate)};
  });
}

const bool registered = CpuOnlineRules::add("rflo", &rflo_online_cpu) && CpuOnlineRules::add("eprop", &rflo_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
