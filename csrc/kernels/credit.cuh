// Credit primitives of the online rules on the GPU, the device mirror of cpu/credit_cpu.h
// (same names, same arguments). Each is one phase spread over the threads of the calling
// block (the persistent online kernel, or one block per stream in a sequence kernel): every
// thread of the block must call it, and the caller puts __syncthreads() between a primitive
// and whatever reads its result. Inputs and outputs must not alias unless stated.
#pragma once

#include "../common/online_net.h"
#include "common.cuh"

namespace torch_local_rnn {
namespace kernels {

// ahat_b = [a_{t-1,b}; x_{t,b}; 1] into out (B, n + I + 1).
template <typename T>
__device__ void presynaptic(const T* prev, const T* x, int64_t B, int64_t n, int64_t I, T* out) {
  const int64_t m = n + I + 1;
  TLR_BLOCK_LOOP(r, B * m) {
    const int64_t b = r / m, j = r - b * m;
    out[r] = j < n ? prev[b * n + j] : (j < n + I ? x[b * I + (j - n)] : T(1));
  }
}

// out_b = J_t^T v_b = (1 - alpha) v_b + W_hh^T (alpha phi'(h_t) (.) v_b) for each stream, without
// forming J (docs/algorithms.md §9). Two phases (scratch, then out) with a barrier between them;
// scratch holds B * n values.
template <typename T>
__device__ void jacobian_transpose(const T* weight_hh, int64_t B, int64_t n, T alpha, const T* dphi, const T* v,
                                   T* out, T* scratch) {
  TLR_BLOCK_LOOP(r, B * n) scratch[r] = alpha * dphi[r] * v[r];
  __syncthreads();
  TLR_BLOCK_LOOP(r, B * n) {
    const int64_t b = r / n, j = r - b * n;
    const T* s = scratch + b * n;
    T acc = (T(1) - alpha) * v[r];
    for (int64_t k = 0; k < n; ++k) acc += weight_hh[k * n + j] * s[k];
    out[r] = acc;
  }
}

// out_b = J_t v_b = (1 - alpha) v_b + alpha phi'(h_t) (.) (W_hh v_b) for each stream.
template <typename T>
__device__ void jacobian_times(const T* weight_hh, int64_t B, int64_t n, T alpha, const T* dphi, const T* v, T* out) {
  TLR_BLOCK_LOOP(r, B * n) {
    const int64_t b = r / n, i = r - b * n;
    const T* w = weight_hh + i * n;
    const T* vb = v + b * n;
    T acc = 0;
    for (int64_t k = 0; k < n; ++k) acc += w[k] * vb[k];
    out[r] = (T(1) - alpha) * v[r] + alpha * dphi[r] * acc;
  }
}

// G += scale * sum_b (alpha phi'(h) (.) c_b) ahat_b^T, G of shape (n, m); one thread per entry.
template <typename T>
__device__ void add_credit_outer(T* G, const T* credit, const T* dphi, const T* ahat, int64_t B, int64_t n,
                                 int64_t m, T alpha, T scale) {
  TLR_BLOCK_LOOP(idx, n * m) {
    const int64_t i = idx / m, j = idx - i * m;
    T acc = 0;
    for (int64_t b = 0; b < B; ++b) acc += dphi[b * n + i] * credit[b * n + i] * ahat[b * m + j];
    G[idx] += scale * alpha * acc;
  }
}

// W <- W - lr G for W = [W_hh | W_ih | b], and rec_grad += G when given; one thread per entry.
template <typename T>
__device__ void apply_recurrent_update(const OnlineNet<T>& net, const T* G, T* rec_grad) {
  const int64_t n = net.n, I = net.I, m = n + I + 1;
  TLR_BLOCK_LOOP(idx, n * m) {
    const int64_t i = idx / m, j = idx - i * m;
    T* w = j < n ? net.weight_hh + i * n + j : (j < n + I ? net.weight_ih + i * I + (j - n) : net.bias + i);
    *w -= net.lr * G[idx];
    if (rec_grad != nullptr) rec_grad[idx] += G[idx];
  }
}

// r = M^T q for M (rows, cols); one thread per column.
template <typename T>
__device__ void transpose_times(const T* M, const T* q, int64_t rows, int64_t cols, T* r) {
  TLR_BLOCK_LOOP(j, cols) {
    T acc = 0;
    for (int64_t k = 0; k < rows; ++k) acc += q[k] * M[k * cols + j];
    r[j] = acc;
  }
}

// G += scale u v^T, G of shape (rows, cols).
template <typename T>
__device__ void add_outer(T* G, const T* u, const T* v, int64_t rows, int64_t cols, T scale) {
  TLR_BLOCK_LOOP(idx, rows * cols) {
    const int64_t i = idx / cols, j = idx - i * cols;
    G[idx] += scale * u[i] * v[j];
  }
}

// G += scale diag(u) M for M (rows, cols): a row-scaled trace (RFLO-type rules).
template <typename T>
__device__ void add_outer_rows(T* G, const T* u, const T* M, int64_t rows, int64_t cols, T scale) {
  TLR_BLOCK_LOOP(idx, rows * cols) G[idx] += scale * u[idx / cols] * M[idx];
}

// out[k] = value for k < count.
template <typename T>
__device__ void block_fill(T* out, int64_t count, T value) {
  TLR_BLOCK_LOOP(k, count) out[k] = value;
}

// out[k] = in[k] for k < count.
template <typename T>
__device__ void block_copy(const T* in, int64_t count, T* out) {
  TLR_BLOCK_LOOP(k, count) out[k] = in[k];
}

}  // namespace kernels
}  // namespace torch_local_rnn
