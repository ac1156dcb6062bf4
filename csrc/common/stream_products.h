// The rules' per-stream products as GEMMs over the B streams (docs/design.md §1.4, §3.3). A rule whose
// step multiplies one shared matrix with every stream's vector (KeRNL's A Omega_b, A^T eps_b, A^T q_b and
// its perturbed forward; UORO's J_t A_b; DNI's A [a; y*; 1]_b, J~ a_b, Jx^T v_b) does B matrix-vector
// products, each of which re-reads the matrix; stacked as the columns of one (n x B) operand they are one
// Exec::matmul (BLAS on the CPU), which reads the matrix once per cache block and runs at the machine's
// GEMM rate. The (B, n) stream-major vectors of the steps are the rows of a (B, n) matrix, so
//   V M   (out_b = M^T v_b) is matmul(V, M) directly,
//   M V^T (out_b = M v_b)   needs V^T (n, B): the step writes it (transpose_streams, or in the phase that
//                           produces V), and the product comes back as (n, B), read at [i * B + b];
//   U^T V (sum_b u_b v_b^T, a stream-averaged outer product) needs U^T (n, B) likewise.
// Results change only in the last bits (a GEMM's summation order). With one stream (the papers' setting,
// n = 32, B = 1) a GEMM of one column is no faster than the matrix-vector loops and costs a BLAS call, so
// the rules keep their matrix-vector path below kStreamGemmMin streams (bitwise as before).
#pragma once

#include <cstdint>

#include "online_step.h"


namespace torch_local_rnn {

// The fewest streams for which a rule's step batches its per-stream products into GEMMs.
constexpr int64_t kStreamGemmMin = 2;

TLR_STEP bool streams_as_gemm(int64_t B) { return B >= kStreamGemmMin; }

// out (cols, rows) = in (rows, cols)^T, e.g. B stream-major vectors of length n into (n, B). One phase.
template <typename Exec, typename T>
TLR_STEP void transpose_streams(const T* in, IndexOf<Exec> rows, IndexOf<Exec> cols, T* out) {
  using Index = IndexOf<Exec>;
  Exec::loop2(cols, rows, 1, [=](Index c, Index r) { out[c * rows + r] = in[r * cols + c]; });
}

// out_b = M v_b for B streams: M (rows, cols) row-major, Vt (cols, B) the streams' vectors as columns,
// out_t (rows, B). One phase; out_t must not alias M or Vt.
template <typename Exec, typename T>
TLR_STEP void matrix_times_streams(const T* M, int64_t rows, int64_t cols, const T* Vt, int64_t B, T* out_t) {
  Exec::matmul(rows, B, cols, M, cols, Vt, B, out_t, B);
}

// out_b = M^T v_b for B streams: V (B, rows) stream-major, M (rows, cols), out (B, cols). One phase; out must
// not alias V or M. (common/credit.h's add_transpose_times_each as one GEMM, into out rather than added.)
template <typename Exec, typename T>
TLR_STEP void streams_times_matrix(const T* V, int64_t B, const T* M, int64_t rows, int64_t cols, T* out) {
  Exec::matmul(B, cols, rows, V, rows, M, cols, out, cols);
}

// out = sum_b u_b v_b^T (rows, cols): Ut (rows, B) the streams' u as columns, V (B, cols) stream-major. One
// phase; out must not alias Ut or V.
template <typename Exec, typename T>
TLR_STEP void sum_outer_streams(const T* Ut, int64_t rows, const T* V, int64_t cols, int64_t B, T* out) {
  Exec::matmul(rows, cols, B, Ut, B, V, cols, out, cols);
}

// out_b = J_t v_b = (1 - alpha) v_b + alpha phi'(h_t,b) (.) (W_hh v_b) for B stream-major vectors v (B, n):
// common/credit.h's jacobian_times with the B products as one GEMM W_hh [v_1 .. v_B], through the scratch cols
// and prod (n, B) each; the combination is jacobian_times' expression. Three phases, synced between; out must
// not alias v, cols or prod.
template <typename Exec, typename T>
TLR_STEP void jacobian_times_streams(const T* weight_hh, IndexOf<Exec> B, IndexOf<Exec> n, T alpha, const T* dphi,
                                    const T* v, T* cols, T* prod, T* out) {
  using Index = IndexOf<Exec>;
  transpose_streams<Exec>(v, B, n, cols);
  Exec::sync();
  matrix_times_streams<Exec>(weight_hh, n, n, cols, B, prod);
  Exec::sync();
  const T* const p = prod;
  Exec::loop2(B, n, 1, [=](Index b, Index k) {
    const Index r = b * n + k;
    out[r] = (T(1) - alpha) * v[r] + alpha * dphi[r] * p[k * B + b];
  });
}

}  // namespace torch_local_rnn
