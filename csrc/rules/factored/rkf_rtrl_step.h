// R-KF-RTRL's step ("reverse" KF-RTRL; docs/algorithms.md §3.5), run by the factored driver
// (rules/factored/factored_step.h): M[k, i, j] ~ A_i B_kj. With noise nu (E[nu nu^T] = I) and
// P = diag(nu) Mbar_t = p ahat_t^T (p = nu (.) alpha phi'(h_t), never formed),
//   B_f = J_t B,  rho0 = sqrt(|B_f|_F / |A|),  rho1 = sqrt(|P|_F / sqrt(n)),
//   A <- rho0 A + rho1 nu,  B <- B_f / rho0 + P / rho1,   G = A (B^T q_t)^T.
// O(n^2 m) per step (J B by Exec::matmul).
#pragma once

#include "factored_step.h"

namespace torch_local_rnn {

template <typename Exec, typename T>
struct RkfRtrlStep : PropagatedFactorB<Exec, T> {  // contract: r_b = B_b^T q_b (m)
  // J_t multiplies B (n, m).
  TLR_STEP static int64_t jcols(int64_t /*n*/, int64_t m) { return m; }

  TLR_STEP static void propagate(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*, const T*, const T*,
                                 const T* dphi) {
    noise_row_scale<Exec>(c, s, dphi);
    PropagatedFactorB<Exec, T>::propagate_b(c, s, dphi);
  }

  // |B_f|, |A|, |p|, |ahat|.
  TLR_STEP static void norm_operands(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*,
                                     NormOperand<T> (&out)[4]) {
    out[0] = {s.jx, c.n * c.m}, out[1] = {s.A, c.n}, out[2] = {s.p, c.n}, out[3] = {s.ahat, c.m};
  }

  TLR_STEP static FactorCoefficients<T> coefficients(const FactoredCtx<T>& c, const T (&norm)[4], const T*) {
    return noise_vector_coefficients(c, norm, 0.0);
  }

  // A in place: each entry reads only itself.
  TLR_STEP static void update(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*) {
    noise_vector_update<Exec>(c, s, s.A, s.jx);
  }

  // scale A_i (B^T q)_j.
  TLR_STEP static T gradient_term(const FactoredCtx<T>& c, const FactoredStreams<T>& s, IndexOf<Exec> b,
                                  IndexOf<Exec> i, IndexOf<Exec> j, T scale) {
    using Index = IndexOf<Exec>;
    const Index n = Index(c.n), m = Index(c.m);
    return (scale * s.A[b * n + i]) * s.r[b * m + j];
  }
};

}  // namespace torch_local_rnn
