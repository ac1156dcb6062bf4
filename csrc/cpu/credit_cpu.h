// Credit primitives shared by the CPU kernels of the rules (f_bptt, e_bptt, the factored rules,
// kernl, dni) and by the online loop: raw loops over rows of B streams, no allocation.
#pragma once

#include <algorithm>
#include <cstdint>

#include "../common/online_net.h"
#include "parallel_cpu.h"

namespace torch_local_rnn {

// out_b = J_t^T v_b = (1 - alpha) v_b + W_hh^T (alpha phi'(h_t) (.) v_b) for each stream b, without
// forming J (docs/algorithms.md §9). out must not alias v; scratch holds B * n values. W_hh^T s is taken
// as a sum of rows s_k W_hh[k, :], so the inner loop runs along contiguous rows (and vectorises)
// instead of down columns.
template <typename scalar_t>
void jacobian_transpose(const scalar_t* weight_hh, int64_t B, int64_t n, scalar_t alpha, const scalar_t* dphi,
                        const scalar_t* v, scalar_t* out, scalar_t* scratch) {
  for (int64_t r = 0; r < B * n; ++r) scratch[r] = alpha * dphi[r] * v[r];
  at::parallel_for(0, B, work_grain(n * n), [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const scalar_t* s = scratch + b * n;
      scalar_t* o = out + b * n;
      for (int64_t j = 0; j < n; ++j) o[j] = (1 - alpha) * v[b * n + j];
      for (int64_t k = 0; k < n; ++k) {
        const scalar_t sk = s[k];
        const scalar_t* w = weight_hh + k * n;
        for (int64_t j = 0; j < n; ++j) o[j] += sk * w[j];
      }
    }
  });
}

// G += scale * sum_b (alpha phi'(h) (.) c_b) ahat_b^T, G of shape (n, m).
template <typename scalar_t>
void add_credit_outer(scalar_t* G, const scalar_t* credit, const scalar_t* dphi, const scalar_t* ahat, int64_t B,
                      int64_t n, int64_t m, scalar_t alpha, scalar_t scale) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / (B * m));
  at::parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      for (int64_t b = 0; b < B; ++b) {
        const scalar_t s = scale * alpha * dphi[b * n + i] * credit[b * n + i];
        const scalar_t* a = ahat + b * m;
        for (int64_t j = 0; j < m; ++j) G[i * m + j] += s * a[j];
      }
    }
  });
}

// ahat_b = [a_{t-1,b}; x_{t,b}; 1] into out (B, n + I + 1).
template <typename scalar_t>
void presynaptic(const scalar_t* prev, const scalar_t* x, int64_t B, int64_t n, int64_t I, scalar_t* out) {
  const int64_t m = n + I + 1;
  for (int64_t b = 0; b < B; ++b) {
    scalar_t* o = out + b * m;
    for (int64_t j = 0; j < n; ++j) o[j] = prev[b * n + j];
    for (int64_t j = 0; j < I; ++j) o[n + j] = x[b * I + j];
    o[n + I] = 1;
  }
}

// W <- W - lr G for W = [W_hh | W_ih | b], and rec_grad += G when given.
template <typename scalar_t>
void apply_recurrent_update(const OnlineNet<scalar_t>& net, const scalar_t* G, scalar_t* rec_grad) {
  const int64_t n = net.n, I = net.I, m = n + I + 1;
  for (int64_t i = 0; i < n; ++i) {
    const scalar_t* g = G + i * m;
    for (int64_t j = 0; j < n; ++j) net.weight_hh[i * n + j] -= net.lr * g[j];
    for (int64_t j = 0; j < I; ++j) net.weight_ih[i * I + j] -= net.lr * g[n + j];
    net.bias[i] -= net.lr * g[n + I];
  }
  if (rec_grad != nullptr) {
    for (int64_t k = 0; k < n * m; ++k) rec_grad[k] += G[k];
  }
}

// r = M^T q for M (rows, cols), row by row (contiguous reads): a factor or mixing matrix contracted
// with a credit vector.
template <typename scalar_t>
void transpose_times(const scalar_t* M, const scalar_t* q, int64_t rows, int64_t cols, scalar_t* r) {
  std::fill(r, r + cols, scalar_t(0));
  for (int64_t k = 0; k < rows; ++k) {
    for (int64_t j = 0; j < cols; ++j) r[j] += q[k] * M[k * cols + j];
  }
}

// G += scale u v^T, G of shape (rows, cols).
template <typename scalar_t>
void add_outer(scalar_t* G, const scalar_t* u, const scalar_t* v, int64_t rows, int64_t cols, scalar_t scale) {
  for (int64_t i = 0; i < rows; ++i) {
    const scalar_t s = scale * u[i];
    for (int64_t j = 0; j < cols; ++j) G[i * cols + j] += s * v[j];
  }
}

// G += scale diag(u) M for M (rows, cols): a row-scaled trace (RFLO-type rules).
template <typename scalar_t>
void add_outer_rows(scalar_t* G, const scalar_t* u, const scalar_t* M, int64_t rows, int64_t cols, scalar_t scale) {
  for (int64_t i = 0; i < rows; ++i) {
    const scalar_t s = scale * u[i];
    for (int64_t j = 0; j < cols; ++j) G[i * cols + j] += s * M[i * cols + j];
  }
}

}  // namespace torch_local_rnn
