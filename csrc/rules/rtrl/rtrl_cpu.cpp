// RTRL (Williams & Zipser 1989; docs/algorithms.md §3.2), exact forward-mode credit assignment.
// Per stream the influence matrix M (n x n*m), M[k, i*m + j] = d a_k / d W_ij, follows
//   M_t = J_t M_{t-1} + Mbar_t,  J_t = (1 - alpha) I + alpha diag(phi'(h_t)) W_hh,
//   Mbar_t[k, i*m + j] = delta_ki alpha phi'(h_{t,i}) ahat_{t,j}   (added sparsely, never formed),
// and the gradient is G_ij = sum_k q_{t,k} M_t[k, i*m + j]. O(n^3 m) time per step.
#include <ATen/ATen.h>

#include "../../common/rule_options.h"
#include "../../common/sequence_rule.h"
#include "../../cpu/credit_cpu.h"
#include "../../cpu/online_step_cpu.h"

namespace torch_local_rnn {
namespace {

// One stream's M <- J_t M + Mbar_t: W_hh M by BLAS into the preallocated tmp (n, n*m), then
// M <- (1 - alpha) M + alpha diag(phi') tmp plus the sparse Mbar_t.
template <typename scalar_t>
void influence_step(const at::Tensor& M, at::Tensor& tmp, const at::Tensor& weight_hh, const scalar_t* dphi,
                    const scalar_t* ahat, scalar_t alpha, scalar_t alpha_m, int64_t n, int64_t m) {
  const int64_t row = n * m;
  at::mm_out(tmp, weight_hh, M);
  scalar_t* mp = M.data_ptr<scalar_t>();
  const scalar_t* tp = tmp.data_ptr<scalar_t>();
  at::parallel_for(0, n, work_grain(row), [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      const scalar_t s = alpha * dphi[k];
      scalar_t* mk = mp + k * row;
      const scalar_t* t = tp + k * row;
      for (int64_t p = 0; p < row; ++p) mk[p] = (1 - alpha) * mk[p] + s * t[p];
      const scalar_t s_m = alpha_m * dphi[k];
      for (int64_t j = 0; j < m; ++j) mk[k * m + j] += s_m * ahat[j];
    }
  });
}

// G[p] += scale * sum_k q_k M[k, p].
template <typename scalar_t>
void influence_gradient(scalar_t* G, const scalar_t* M, const scalar_t* q, scalar_t scale, int64_t n, int64_t m) {
  const int64_t row = n * m;
  at::parallel_for(0, row, work_grain(n), [&](int64_t lo, int64_t hi) {
    for (int64_t k = 0; k < n; ++k) {
      const scalar_t s = scale * q[k];
      const scalar_t* mk = M + k * row;
      for (int64_t p = lo; p < hi; ++p) G[p] += s * mk[p];
    }
  });
}

template <typename scalar_t>
struct RtrlRule {
  const std::vector<at::Tensor>& influence;  // per stream (n, n*m) views of state[0]
  at::Tensor& tmp;
  const at::Tensor& weight_hh;
  scalar_t *ahat, *G, *rec_grad;
  scalar_t alpha_m;  // the factor of Mbar_t (1: legacy_alpha_omission)

  void step(const OnlineNet<scalar_t>& net, const scalar_t* x, const OnlineActivity<scalar_t>& act) {
    const int64_t B = net.B, n = net.n, m = n + net.I + 1;
    presynaptic(act.prev, x, B, n, net.I, ahat);
    std::fill(G, G + n * m, scalar_t(0));
    for (int64_t b = 0; b < B; ++b) {
      influence_step(influence[b], tmp, weight_hh, act.dphi + b * n, ahat + b * m, net.alpha, alpha_m, n, m);
      influence_gradient(G, influence[b].data_ptr<scalar_t>(), act.q + b * n, scalar_t(1) / B, n, m);
    }
    apply_recurrent_update(net, G, rec_grad);
  }
};

BackwardResult rtrl_backward_cpu(const SequenceArgs& a) {
  const int64_t T = a.x.size(0), B = a.x.size(1), I = a.x.size(2), n = a.weight_hh.size(0), m = n + I + 1;
  at::Tensor gradient = at::zeros({n, m}, a.x.options());
  at::Tensor M = at::empty({n, n * m}, a.x.options()), tmp = at::empty_like(M);
  at::Tensor ahat = at::empty({m}, a.x.options());
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
    const scalar_t alpha = static_cast<scalar_t>(a.alpha);
    const scalar_t alpha_m = static_cast<scalar_t>(immediate_alpha(a.options, a.alpha));
    const scalar_t *x = a.x.data_ptr<scalar_t>(), *h0 = a.h0.data_ptr<scalar_t>();
    const scalar_t *out = a.output.data_ptr<scalar_t>(), *d = a.dphi.data_ptr<scalar_t>();
    const scalar_t* g = a.grad_output.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      M.zero_();
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* prev = t == 0 ? h0 + b * n : out + ((t - 1) * B + b) * n;
        presynaptic(prev, x + (t * B + b) * I, 1, n, I, ahat.data_ptr<scalar_t>());
        influence_step(M, tmp, a.weight_hh, d + (t * B + b) * n, ahat.data_ptr<scalar_t>(), alpha, alpha_m, n, m);
        influence_gradient(gradient.data_ptr<scalar_t>(), M.data_ptr<scalar_t>(), g + (t * B + b) * n,
                           scalar_t(1), n, m);
      }
    }
  });
  return result_from_gradient(a, gradient);
}

void rtrl_online_cpu(const OnlineCall& c) {
  const int64_t B = c.args.B, n = c.args.n, m = n + c.args.I + 1;
  at::Tensor scratch = at::empty({B * m + n * m}, c.x.options());
  at::Tensor tmp = at::empty({n, n * m}, c.x.options());
  const std::vector<at::Tensor> influence = c.state[0].unbind(0);  // views made once, outside the loop
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    scalar_t* s = scratch.data_ptr<scalar_t>();
    return RtrlRule<scalar_t>{influence, tmp, c.weight_hh, s, s + B * m, rec_grad_ptr<scalar_t>(c),
                              static_cast<scalar_t>(immediate_alpha(c.options, c.alpha))};
  });
}

const bool registered = CpuSequenceRules::add("rtrl", &rtrl_backward_cpu) &&
                        CpuOnlineRules::add("rtrl", &rtrl_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
