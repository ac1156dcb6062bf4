// UORO (Tallec & Ollivier 2017; docs/algorithms.md §3.3): the rank-1 unbiased estimate
// M[k, i, j] ~ A_k B_ij of RTRL's influence. Per step, with noise nu (E[nu nu^T] = I),
//   A_f = J_t A   (or, epsilon > 0, (F(a_{t-1} + eps A, x_t) - a_t) / eps),
//   P = diag(nu) Mbar_t,  P_ij = nu_i alpha phi'(h_t,i) ahat_t,j   (never formed: P = p ahat^T),
//   rho0 = sqrt(|B|_F / |A_f|),  rho1 = sqrt(|P|_F / sqrt(n)),
//   A <- rho0 A_f + rho1 nu,  B <- B / rho0 + P / rho1,   G = (q_t . A) B.
// O(n^2 + n m) per step.
#include "factored_cpu.h"

namespace torch_local_rnn {
namespace {

template <typename scalar_t>
struct UoroStream : FactorPair<scalar_t> {  // scratch: A_f, p, shifted state (n each)
  using FactorPair<scalar_t>::A, FactorPair<scalar_t>::Bk, FactorPair<scalar_t>::scratch, FactorPair<scalar_t>::n,
      FactorPair<scalar_t>::m;

  static FactoredLayout layout(int64_t n, int64_t m) { return uoro_layout(n, m); }
  static int64_t scratch_size(int64_t n, int64_t /*m*/) { return 3 * n; }

  // A_f by the forward difference (F(a_{t-1} + eps A, x_t) - a_t) / eps.
  void forward_difference(const FactoredContext<scalar_t>& c, const scalar_t* prev, const scalar_t* x,
                          const scalar_t* next, scalar_t* Af) {
    const int64_t I = c.I;
    const scalar_t eps = static_cast<scalar_t>(c.options.epsilon);
    scalar_t* h = scratch + 2 * n;
    for (int64_t j = 0; j < n; ++j) h[j] = prev[j] + eps * A[j];
    for (int64_t k = 0; k < n; ++k) {
      const scalar_t v = preactivation(c.w_hh, c.w_ih, c.bias, n, I, k, h, x);
      Af[k] = ((1 - c.alpha) * h[k] + c.alpha * activate(c.f, v) - next[k]) / eps;
    }
  }

  void step(const FactoredContext<scalar_t>& c, const scalar_t* prev, const scalar_t* x, const scalar_t* next,
            const scalar_t* dphi, const scalar_t* nu, const scalar_t* ahat) {
    scalar_t *Af = scratch, *p = scratch + n, *Bm = Bk.template data_ptr<scalar_t>();
    if (c.options.epsilon > 0) {
      forward_difference(c, prev, x, next, Af);
    } else {
      jacobian_times_vector(c.w_hh, n, c.alpha, dphi, A, Af);
    }
    for (int64_t i = 0; i < n; ++i) p[i] = nu[i] * c.alpha_m * dphi[i];
    const Rho<scalar_t> rho0 = balance(frobenius(Bm, n * m), frobenius(Af, n), c.options.rho0, c.options.epsilon);
    const Rho<scalar_t> rho1 = balance(frobenius(p, n) * frobenius(ahat, m), std::sqrt(scalar_t(n)),
                                       c.options.rho1, c.options.epsilon);
    const scalar_t keep = rho0.used ? 1 / rho0.value : 0, add = rho1.used ? 1 / rho1.value : 0;
    for (int64_t i = 0; i < n; ++i) {
      A[i] = (rho0.used ? rho0.value * Af[i] : 0) + (rho1.used ? rho1.value * nu[i] : 0);
      scalar_t* row = Bm + i * m;
      const scalar_t pi = add * p[i];
      for (int64_t j = 0; j < m; ++j) row[j] = keep * row[j] + pi * ahat[j];
    }
  }

  // G += scale (q . A) B.
  void add_gradient(scalar_t* G, const scalar_t* q, scalar_t scale) const {
    const scalar_t s = scale * dot(q, A, n);
    const scalar_t* Bm = Bk.template data_ptr<scalar_t>();
    for (int64_t p = 0; p < n * m; ++p) G[p] += s * Bm[p];
  }
};

const bool registered = CpuSequenceRules::add("uoro", &factored_backward_cpu<UoroStream>) &&
                        CpuOnlineRules::add("uoro", &factored_online_cpu<UoroStream>);

}  // namespace
}  // namespace torch_local_rnn
