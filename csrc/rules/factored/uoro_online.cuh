// UORO on the GPU (Tallec & Ollivier 2017; docs/algorithms.md §3.3), the device mirror of the Stream in
// rules/factored/uoro_cpu.cpp, run by the shared factored driver (factored.cuh): M[k, i, j] ~ A_k B_ij and
//   A_f = J_t A   (or, epsilon > 0, (F(a_{t-1} + eps A, x_t) - a_t) / eps),
//   P = diag(nu) Mbar_t = p ahat_t^T,  p = nu (.) alpha phi'(h_t),
//   rho0 = sqrt(|B|_F / |A_f|),  rho1 = sqrt(|P|_F / sqrt(n))  (|P|_F = |p| |ahat|),
//   A <- rho0 A_f + rho1 nu,  B <- B / rho0 + P / rho1,   G = (q_t . A) B.
#pragma once

#include "factored.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct UoroStream {
  // J_t multiplies A, seen as (n, 1).
  __host__ __device__ static int64_t jcols(int64_t /*n*/, int64_t /*m*/) { return 1; }

  // A_f into jx and p. The forward difference is the CPU's F(a_{t-1} + eps A, x_t) with the
  // shifted state h = a_{t-1} + eps A recomputed in place (same rounding) instead of stored.
  __device__ static void propagate(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* prev, const T* x,
                                   const T* next, const T* dphi) {
    const int64_t n = c.n, I = c.I;
    noise_row_scale(c, s, dphi);
    if (c.epsilon > 0) {
      const T eps = static_cast<T>(c.epsilon);
      TLR_BLOCK_LOOP(r, s.B * n) {
        const int64_t b = r / n, k = r - b * n;
        const T *ap = prev + b * n, *A = s.A + b * n, *xb = x + b * I;
        const T *w = c.w_hh + k * n, *u = c.w_ih + k * I;
        T v = c.bias[k];
        for (int64_t j = 0; j < n; ++j) v += w[j] * (ap[j] + eps * A[j]);
        for (int64_t j = 0; j < I; ++j) v += u[j] * xb[j];
        const T h = ap[k] + eps * A[k];
        s.jx[r] = ((T(1) - c.alpha) * h + c.alpha * activate(c.f, v) - next[r]) / eps;
      }
    } else {
      jacobian_times_columns(c.w_hh, s.B, n, int64_t(1), c.alpha, dphi, s.A, s.jx);
    }
  }

  // |B|, |A_f|, |p|, |ahat|.
  __device__ static void norm_operands(const FactoredCtx<T>& c, const FactoredStreams<T>& s, int64_t b, const T*,
                                       const T* (&ptr)[4], int64_t (&count)[4]) {
    const int64_t n = c.n, m = c.m;
    ptr[0] = s.Bk + b * n * m, count[0] = n * m;
    ptr[1] = s.jx + b * n, count[1] = n;
    ptr[2] = s.p + b * n, count[2] = n;
    ptr[3] = s.ahat + b * m, count[3] = m;
  }

  __device__ static void rhos(const FactoredCtx<T>& c, const T (&norm)[4], Rho<T>& rho0, Rho<T>& rho1) {
    rho0 = balance(norm[0], norm[1], c.rho0, c.epsilon);
    rho1 = balance(norm[2] * norm[3], sqrt(T(c.n)), c.rho1, c.epsilon);
  }

  // A and B in place, one thread per entry (each entry reads only itself and the step's vectors).
  __device__ static void update(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*) {
    const int64_t n = c.n, m = c.m;
    TLR_BLOCK_LOOP(r, s.B * n) {
      const int64_t b = r / n, i = r - b * n;
      const Rho<T> rho0 = load_rho(s, b, 0), rho1 = load_rho(s, b, 1);
      s.A[r] = (rho0.used ? rho0.value * s.jx[r] : T(0)) + (rho1.used ? rho1.value * s.nu[b * s.width + i] : T(0));
    }
    TLR_BLOCK_LOOP(idx, s.B * n * m) {
      const int64_t b = idx / (n * m), e = idx - b * n * m, i = e / m, j = e - i * m;
      const Rho<T> rho0 = load_rho(s, b, 0), rho1 = load_rho(s, b, 1);
      const T keep = rho0.used ? T(1) / rho0.value : T(0), add = rho1.used ? T(1) / rho1.value : T(0);
      const T pi = add * s.p[b * n + i];
      s.Bk[idx] = keep * s.Bk[idx] + pi * s.ahat[b * m + j];
    }
  }

  // Q_b = q_b . A_b into r[b, 0], summed in the CPU's order by one thread per stream.
  __device__ static void contract(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* q) {
    const int64_t n = c.n;
    TLR_BLOCK_LOOP(b, s.B) {
      T Q = 0;
      for (int64_t k = 0; k < n; ++k) Q += q[b * n + k] * s.A[b * n + k];
      s.r[b * c.m] = Q;
    }
  }

  // scale (q . A) B_ij.
  __device__ static T gradient_term(const FactoredCtx<T>& c, const FactoredStreams<T>& s, int64_t b, int64_t i,
                                    int64_t j, T scale) {
    const int64_t m = c.m;
    return (scale * s.r[b * m]) * s.Bk[(b * c.n + i) * m + j];
  }
};

}  // namespace kernels
}  // namespace torch_local_rnn
