// KF-RTRL's step (Mujika et al. 2018; docs/algorithms.md §3.4), run by the factored driver
// (rules/factored/factored_step.h): the Kronecker estimate M[k, i, j] ~ A_j B_ki. With two scalars nu0,
// nu1 (E[nu nu^T] = I) and D = diag(alpha phi'(h_t)),
//   B_f = J_t B,  rho0 = sqrt(|B_f|_F / |A|),  rho1 = sqrt(|D|_F / |ahat_t|),
//   A <- nu0 rho0 A + nu1 rho1 ahat_t,  B <- nu0 B_f / rho0 + nu1 D / rho1,   G = (B^T q_t) A^T.
// O(n^3) per step (J B by Exec::matmul).
#pragma once

#include "factored_step.h"

namespace torch_local_rnn {

template <typename Exec, typename T>
struct KfRtrlStep : PropagatedFactorB<Exec, T> {  // contract: r_b = B_b^T q_b (n)
  // J_t multiplies B (n, n).
  TLR_STEP static int64_t jcols(int64_t n, int64_t /*m*/) { return n; }

  TLR_STEP static void propagate(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*, const T*, const T*,
                                 const T* dphi) {
    PropagatedFactorB<Exec, T>::propagate_b(c, s, dphi);
  }

  // |B_f|, |A|, |phi'|, |ahat|.
  TLR_STEP static void norm_operands(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* dphi,
                                     NormOperand<T> (&out)[4]) {
    out[0] = {s.jx, c.n * c.n}, out[1] = {s.A, c.m}, out[2] = {dphi, c.n}, out[3] = {s.ahat, c.m};
  }

  // |D|_F = |alpha_m| |phi'|; the noise scalars enter the coefficients.
  TLR_STEP static FactorCoefficients<T> coefficients(const FactoredCtx<T>& c, const T (&norm)[4], const T* nu) {
    const T alpha_m = c.alpha_m < T(0) ? -c.alpha_m : c.alpha_m;
    const Rho<T> rho0 = balance(norm[0], norm[1], c.rho0, 0.0), rho1 = balance(alpha_m * norm[2], norm[3], c.rho1, 0.0);
    return {rho0.used ? nu[0] * rho0.value : T(0), rho1.used ? nu[1] * rho1.value : T(0),
            rho0.used ? nu[0] / rho0.value : T(0), rho1.used ? nu[1] / rho1.value : T(0)};
  }

  // A and B_f's share, then the diagonal D term: two phases, synced between.
  TLR_STEP static void update(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* dphi) {
    using Index = IndexOf<Exec>;
    const Index n = Index(c.n), m = Index(c.m);
    Exec::loop2(s.B, m, 1, [=](Index b, Index j) {
      const FactorCoefficients<T> k = s.coefficients(b);
      s.A[b * m + j] = k.a_keep * s.A[b * m + j] + k.a_add * s.ahat[b * m + j];
    });
    Exec::loop2(s.B * n, n, 1,
                [=](Index r, Index l) { s.Bk[r * n + l] = s.coefficients(r / n).b_keep * s.jx[r * n + l]; });
    Exec::sync();
    Exec::loop2(s.B, n, 1, [=](Index b, Index k) {
      s.Bk[(b * n + k) * n + k] += s.coefficients(b).b_add * c.alpha_m * dphi[b * n + k];
    });
  }

  // scale (B^T q)_i A_j.
  TLR_STEP static T gradient_term(const FactoredCtx<T>& c, const FactoredStreams<T>& s, IndexOf<Exec> b,
                                  IndexOf<Exec> i, IndexOf<Exec> j, T scale) {
    using Index = IndexOf<Exec>;
    const Index m = Index(c.m);
    return (scale * s.r[b * m + i]) * s.A[b * m + j];
  }
};

}  // namespace torch_local_rnn
