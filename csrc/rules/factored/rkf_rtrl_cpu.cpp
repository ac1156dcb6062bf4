// R-KF-RTRL ("reverse" KF-RTRL; docs/algorithms.md §3.5): M[k, i, j] ~ A_i B_kj. Per step, with noise
// nu (E[nu nu^T] = I) and P = diag(nu) Mbar_t (P_kj = nu_k alpha phi'(h_t,k) ahat_t,j, never formed):
//   B_f = J_t B,  rho0 = sqrt(|B_f|_F / |A|),  rho1 = sqrt(|P|_F / sqrt(n)),
//   A <- rho0 A + rho1 nu,  B <- B_f / rho0 + P / rho1,   G = A (B^T q_t)^T.
// O(n^2 m) per step (J B by BLAS).
#include "factored_cpu.h"

namespace torch_local_rnn {
namespace {

template <typename scalar_t>
struct RkfStream : FactorPair<scalar_t> {  // scratch: p (n), B^T q (m)
  using FactorPair<scalar_t>::A, FactorPair<scalar_t>::Bk, FactorPair<scalar_t>::Bf, FactorPair<scalar_t>::scratch,
      FactorPair<scalar_t>::n, FactorPair<scalar_t>::m;

  static FactoredLayout layout(int64_t n, int64_t m) { return rkf_rtrl_layout(n, m); }
  static int64_t scratch_size(int64_t n, int64_t m) { return n + m; }

  void step(const FactoredContext<scalar_t>& c, const scalar_t*, const scalar_t*, const scalar_t*,
            const scalar_t* dphi, const scalar_t* nu, const scalar_t* ahat) {
    jacobian_times(c.weight_hh, Bk, Bf, dphi, c.alpha);
    scalar_t *b = Bk.template data_ptr<scalar_t>(), *p = scratch;
    const scalar_t* f = Bf.template data_ptr<scalar_t>();
    for (int64_t k = 0; k < n; ++k) p[k] = nu[k] * c.alpha_m * dphi[k];
    const Rho<scalar_t> rho0 = balance(frobenius(f, n * m), frobenius(A, n), c.options.rho0, 0.0);
    const Rho<scalar_t> rho1 = balance(frobenius(p, n) * frobenius(ahat, m), std::sqrt(scalar_t(n)),
                                       c.options.rho1, 0.0);
    const scalar_t keep = rho0.used ? 1 / rho0.value : 0, add = rho1.used ? 1 / rho1.value : 0;
    for (int64_t i = 0; i < n; ++i) A[i] = (rho0.used ? rho0.value * A[i] : 0) + (rho1.used ? rho1.value * nu[i] : 0);
    for (int64_t k = 0; k < n; ++k) {
      const scalar_t pk = add * p[k];
      for (int64_t j = 0; j < m; ++j) b[k * m + j] = keep * f[k * m + j] + pk * ahat[j];
    }
  }

  // G += scale A (B^T q)^T.
  void add_gradient(scalar_t* G, const scalar_t* q, scalar_t scale) {
    transpose_times(Bk.template data_ptr<scalar_t>(), q, n, m, scratch + n);
    add_outer(G, A, scratch + n, n, m, scale);
  }
};

const bool registered = CpuSequenceRules::add("rkf_rtrl", &factored_backward_cpu<RkfStream>) &&
                        CpuOnlineRules::add("rkf_rtrl", &factored_online_cpu<RkfStream>);

}  // namespace
}  // namespace torch_local_rnn
