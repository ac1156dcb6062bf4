// R-KF-RTRL on the GPU (docs/algorithms.md §3.5), the device mirror of the Stream in
// rules/factored/rkf_rtrl_cpu.cpp, run by the shared factored driver (factored.cuh): M[k, i, j] ~ A_i B_kj and,
// with P = diag(nu) Mbar_t = p ahat_t^T (p = nu (.) alpha phi'(h_t)),
//   B_f = J_t B,  rho0 = sqrt(|B_f|_F / |A|),  rho1 = sqrt(|P|_F / sqrt(n)),
//   A <- rho0 A + rho1 nu,  B <- B_f / rho0 + P / rho1,   G = A (B^T q_t)^T.
#pragma once

#include "factored.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct RkfStream {
  // J_t multiplies B (n, m).
  __host__ __device__ static int64_t jcols(int64_t /*n*/, int64_t m) { return m; }

  __device__ static void propagate(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*, const T*,
                                   const T*, const T* dphi) {
    noise_row_scale(c, s, dphi);
    jacobian_times_columns(c.w_hh, s.B, c.n, c.m, c.alpha, dphi, s.Bk, s.jx);
  }

  // |B_f|, |A|, |p|, |ahat|.
  __device__ static void norm_operands(const FactoredCtx<T>& c, const FactoredStreams<T>& s, int64_t b, const T*,
                                       const T* (&ptr)[4], int64_t (&count)[4]) {
    const int64_t n = c.n, m = c.m;
    ptr[0] = s.jx + b * n * m, count[0] = n * m;
    ptr[1] = s.A + b * n, count[1] = n;
    ptr[2] = s.p + b * n, count[2] = n;
    ptr[3] = s.ahat + b * m, count[3] = m;
  }

  __device__ static void rhos(const FactoredCtx<T>& c, const T (&norm)[4], Rho<T>& rho0, Rho<T>& rho1) {
    rho0 = balance(norm[0], norm[1], c.rho0, 0.0);
    rho1 = balance(norm[2] * norm[3], sqrt(T(c.n)), c.rho1, 0.0);
  }

  __device__ static void update(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*) {
    const int64_t n = c.n, m = c.m;
    TLR_BLOCK_LOOP(r, s.B * n) {
      const int64_t b = r / n, i = r - b * n;
      const Rho<T> rho0 = load_rho(s, b, 0), rho1 = load_rho(s, b, 1);
      s.A[r] = (rho0.used ? rho0.value * s.A[r] : T(0)) + (rho1.used ? rho1.value * s.nu[b * s.width + i] : T(0));
    }
    TLR_BLOCK_LOOP(idx, s.B * n * m) {
      const int64_t b = idx / (n * m), e = idx - b * n * m, k = e / m, j = e - k * m;
      const Rho<T> rho0 = load_rho(s, b, 0), rho1 = load_rho(s, b, 1);
      const T keep = rho0.used ? T(1) / rho0.value : T(0), add = rho1.used ? T(1) / rho1.value : T(0);
      const T pk = add * s.p[b * n + k];
      s.Bk[idx] = keep * s.jx[idx] + pk * s.ahat[b * m + j];
    }
  }

  // r_b = B_b^T q_b (m), one thread per entry, summed over k in the CPU's order.
  __device__ static void contract(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* q) {
    const int64_t n = c.n, m = c.m;
    TLR_BLOCK_LOOP(idx, s.B * m) {
      const int64_t b = idx / m, j = idx - b * m;
      const T* M = s.Bk + b * n * m + j;
      const T* qb = q + b * n;
      T acc = 0;
      for (int64_t k = 0; k < n; ++k) acc += qb[k] * M[k * m];
      s.r[idx] = acc;
    }
  }

  // scale A_i (B^T q)_j.
  __device__ static T gradient_term(const FactoredCtx<T>& c, const FactoredStreams<T>& s, int64_t b, int64_t i,
                                    int64_t j, T scale) {
    return (scale * s.A[b * c.n + i]) * s.r[b * c.m + j];
  }
};

}  // namespace kernels
}  // namespace torch_local_rnn
