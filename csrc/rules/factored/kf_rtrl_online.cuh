// KF-RTRL on the GPU (Mujika et al. 2018; docs/algorithms.md §3.4), the device mirror of the Stream in
// rules/factored/kf_rtrl_cpu.cpp, run by the shared factored driver (factored.cuh): M[k, i, j] ~ A_j B_ki and,
// with two scalars nu0, nu1 and D = diag(alpha phi'(h_t)),
//   B_f = J_t B,  rho0 = sqrt(|B_f|_F / |A|),  rho1 = sqrt(|D|_F / |ahat_t|),
//   A <- nu0 rho0 A + nu1 rho1 ahat_t,  B <- nu0 B_f / rho0 + nu1 D / rho1,   G = (B^T q_t) A^T.
#pragma once

#include "factored.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct KfStream {
  // J_t multiplies B (n, n).
  __host__ __device__ static int64_t jcols(int64_t n, int64_t /*m*/) { return n; }

  __device__ static void propagate(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T*, const T*,
                                   const T*, const T* dphi) {
    jacobian_times_columns(c.w_hh, s.B, c.n, c.n, c.alpha, dphi, s.Bk, s.jx);
  }

  // |B_f|, |A|, |phi'|, |ahat|.
  __device__ static void norm_operands(const FactoredCtx<T>& c, const FactoredStreams<T>& s, int64_t b,
                                       const T* dphi, const T* (&ptr)[4], int64_t (&count)[4]) {
    const int64_t n = c.n, m = c.m;
    ptr[0] = s.jx + b * n * n, count[0] = n * n;
    ptr[1] = s.A + b * m, count[1] = m;
    ptr[2] = dphi + b * n, count[2] = n;
    ptr[3] = s.ahat + b * m, count[3] = m;
  }

  // |D|_F = |alpha_m| |phi'|.
  __device__ static void rhos(const FactoredCtx<T>& c, const T (&norm)[4], Rho<T>& rho0, Rho<T>& rho1) {
    const T alpha_m = c.alpha_m < T(0) ? -c.alpha_m : c.alpha_m;
    rho0 = balance(norm[0], norm[1], c.rho0, 0.0);
    rho1 = balance(alpha_m * norm[2], norm[3], c.rho1, 0.0);
  }

  __device__ static void update(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* dphi) {
    const int64_t n = c.n, m = c.m;
    TLR_BLOCK_LOOP(r, s.B * m) {
      const int64_t b = r / m;
      const Rho<T> rho0 = load_rho(s, b, 0), rho1 = load_rho(s, b, 1);
      const T* nu = s.nu + b * s.width;
      const T old_a = rho0.used ? nu[0] * rho0.value : T(0), new_a = rho1.used ? nu[1] * rho1.value : T(0);
      s.A[r] = old_a * s.A[r] + new_a * s.ahat[r];
    }
    TLR_BLOCK_LOOP(idx, s.B * n * n) {
      const int64_t b = idx / (n * n), e = idx - b * n * n, k = e / n, l = e - k * n;
      const Rho<T> rho0 = load_rho(s, b, 0), rho1 = load_rho(s, b, 1);
      const T* nu = s.nu + b * s.width;
      const T old_b = rho0.used ? nu[0] / rho0.value : T(0), new_b = rho1.used ? nu[1] / rho1.value : T(0);
      T v = old_b * s.jx[idx];
      if (k == l) v += new_b * c.alpha_m * dphi[b * n + k];
      s.Bk[idx] = v;
    }
  }

  // r_b = B_b^T q_b (n), one thread per entry, summed over k in the CPU's order.
  __device__ static void contract(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* q) {
    const int64_t n = c.n;
    TLR_BLOCK_LOOP(idx, s.B * n) {
      const int64_t b = idx / n, i = idx - b * n;
      const T* M = s.Bk + b * n * n + i;
      const T* qb = q + b * n;
      T acc = 0;
      for (int64_t k = 0; k < n; ++k) acc += qb[k] * M[k * n];
      s.r[b * c.m + i] = acc;
    }
  }

  // scale (B^T q)_i A_j.
  __device__ static T gradient_term(const FactoredCtx<T>& c, const FactoredStreams<T>& s, int64_t b, int64_t i,
                                    int64_t j, T scale) {
    const int64_t m = c.m;
    return (scale * s.r[b * m + i]) * s.A[b * m + j];
  }
};

}  // namespace kernels
}  // namespace torch_local_rnn
