// UORO's step (Tallec & Ollivier 2017; docs/algorithms.md §3.3), run by the factored driver
// (rules/factored/factored_step.h): the rank-1 unbiased estimate M[k, i, j] ~ A_k B_ij. With noise nu
// (E[nu nu^T] = I),
//   A_f = J_t A   (or, epsilon > 0, (F(a_{t-1} + eps A, x_t) - a_t) / eps),
//   P = diag(nu) Mbar_t = p ahat_t^T,  p = nu (.) alpha phi'(h_t)   (never formed),
//   rho0 = sqrt(|B|_F / |A_f|),  rho1 = sqrt(|P|_F / sqrt(n)),
//   A <- rho0 A_f + rho1 nu,  B <- B / rho0 + P / rho1,   G = (q_t . A) B.
// O(n^2 + n m) per step. With B >= kStreamGemmMin streams J_t A_b is one GEMM over the streams (propagate).
#pragma once

#include "factored_step.h"

namespace torch_local_rnn {

template <typename Exec, typename T>
struct UoroStep {
  // J_t multiplies A, seen as (n, 1).
  TLR_STEP static int64_t jcols(int64_t /*n*/, int64_t /*m*/) { return 1; }

  // A_f into jx, p. The forward difference runs the forward step from the shifted state
  // h = a_{t-1} + eps A (kept in r, free until the contraction): two phases, synced between.
  TLR_STEP static void propagate(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* prev, const T* x,
                                 const T* next, const T* dphi) {
    using Index = IndexOf<Exec>;
    const Index n = Index(c.n), m = Index(c.m), I = Index(c.I);
    noise_row_scale<Exec>(c, s, dphi);
    if (!(c.epsilon > 0)) {  // J_t A_b; with B >= kStreamGemmMin streams W_hh is read once for all of them
      if (streams_as_gemm(s.B)) {
        jacobian_times_streams<Exec>(c.w_hh, s.B, n, c.alpha, dphi, s.A, s.cols, s.prod, s.jx);
      } else {
        jacobian_times<Exec>(c.w_hh, s.B, n, c.alpha, dphi, s.A, s.jx);
      }
      return;
    }
    const T eps = static_cast<T>(c.epsilon);
    Exec::loop2(s.B, n, 1, [=](Index b, Index j) { s.r[b * m + j] = prev[b * n + j] + eps * s.A[b * n + j]; });
    Exec::sync();
    Exec::loop2(s.B, n, n + I, [=](Index b, Index k) {
      const T* h = s.r + b * m;
      const T v = preactivation<Exec::kRotatedRows>(c.w_hh, c.w_ih, c.bias, n, I, k, h, x + b * I);
      s.jx[b * n + k] = ((T(1) - c.alpha) * h[k] + c.alpha * activate(c.f, v) - next[b * n + k]) / eps;
    });
  }

  // |B|, |A_f|, |p|, |ahat|.
  TLR_STEP static void norm_operands(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*,
                                     NormOperand<T> (&out)[4]) {
    out[0] = {s.Bk, c.n * c.m}, out[1] = {s.jx, c.n}, out[2] = {s.p, c.n}, out[3] = {s.ahat, c.m};
  }

  TLR_STEP static FactorCoefficients<T> coefficients(const FactoredCtx<T>& c, const T (&norm)[4], const T*) {
    return noise_vector_coefficients(c, norm, c.epsilon);
  }

  // B in place: each entry reads only itself.
  TLR_STEP static void update(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*) {
    noise_vector_update<Exec>(c, s, s.jx, s.Bk);
  }

  // Q_b = q_b . A_b into r[b, 0].
  TLR_STEP static void contract(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* q) {
    using Index = IndexOf<Exec>;
    const Index n = Index(c.n), m = Index(c.m);
    Exec::loop(s.B, n, [=](Index b) { s.r[b * m] = dot(q + b * n, s.A + b * n, n); });
  }

  // scale (q . A) B_ij.
  TLR_STEP static T gradient_term(const FactoredCtx<T>& c, const FactoredStreams<T>& s, IndexOf<Exec> b,
                                  IndexOf<Exec> i, IndexOf<Exec> j, T scale) {
    using Index = IndexOf<Exec>;
    const Index n = Index(c.n), m = Index(c.m);
    return (scale * s.r[b * m]) * s.Bk[(b * n + i) * m + j];
  }
};

}  // namespace torch_local_rnn
