// KF-RTRL (Mujika et al. 2018; docs/algorithms.md §3.4): the Kronecker estimate M[k, i, j] ~ A_j B_ki.
// Per step, with two scalars nu0, nu1 (E[nu nu^T] = I) and D = diag(alpha phi'(h_t)):
//   B_f = J_t B,  rho0 = sqrt(|B_f|_F / |A|),  rho1 = sqrt(|D|_F / |ahat_t|),
//   A <- nu0 rho0 A + nu1 rho1 ahat_t,  B <- nu0 B_f / rho0 + nu1 D / rho1,   G = (B^T q_t) A^T.
// O(n^3) per step (J B by BLAS).
#include "factored_cpu.h"

namespace torch_local_rnn {
namespace {

template <typename scalar_t>
struct KfStream : FactorPair<scalar_t> {  // scratch: B^T q (n)
  using FactorPair<scalar_t>::A, FactorPair<scalar_t>::Bk, FactorPair<scalar_t>::Bf, FactorPair<scalar_t>::scratch,
      FactorPair<scalar_t>::n, FactorPair<scalar_t>::m;

  static FactoredLayout layout(int64_t n, int64_t m) { return kf_rtrl_layout(n, m); }
  static int64_t scratch_size(int64_t n, int64_t /*m*/) { return n; }

  void step(const FactoredContext<scalar_t>& c, const scalar_t*, const scalar_t*, const scalar_t*,
            const scalar_t* dphi, const scalar_t* nu, const scalar_t* ahat) {
    jacobian_times(c.weight_hh, Bk, Bf, dphi, c.alpha);
    scalar_t* b = Bk.template data_ptr<scalar_t>();
    const scalar_t* f = Bf.template data_ptr<scalar_t>();
    const Rho<scalar_t> rho0 = balance(frobenius(f, n * n), frobenius(A, m), c.options.rho0, 0.0);
    const Rho<scalar_t> rho1 = balance(std::abs(c.alpha_m) * frobenius(dphi, n), frobenius(ahat, m),
                                       c.options.rho1, 0.0);
    const scalar_t old_a = rho0.used ? nu[0] * rho0.value : 0, new_a = rho1.used ? nu[1] * rho1.value : 0;
    const scalar_t old_b = rho0.used ? nu[0] / rho0.value : 0, new_b = rho1.used ? nu[1] / rho1.value : 0;
    for (int64_t j = 0; j < m; ++j) A[j] = old_a * A[j] + new_a * ahat[j];
    for (int64_t p = 0; p < n * n; ++p) b[p] = old_b * f[p];
    for (int64_t k = 0; k < n; ++k) b[k * n + k] += new_b * c.alpha_m * dphi[k];
  }

  // G += scale (B^T q) A^T.
  void add_gradient(scalar_t* G, const scalar_t* q, scalar_t scale) {
    transpose_times(Bk.template data_ptr<scalar_t>(), q, n, n, scratch);
    add_outer(G, scratch, A, n, m, scale);
  }
};

const bool registered = CpuSequenceRules::add("kf_rtrl", &factored_backward_cpu<KfStream>) &&
                        CpuOnlineRules::add("kf_rtrl", &factored_online_cpu<KfStream>);

}  // namespace
}  // namespace torch_local_rnn
