// RTRL on the GPU (Williams & Zipser 1989; docs/algorithms.md §3.2), exact forward-mode credit
// assignment. Per stream the influence matrix M (n x n*m), M[k, i*m + j] = d a_k / d W_ij, follows
//   M_t = J_t M_{t-1} + Mbar_t,  J_t = (1 - alpha) I + alpha diag(phi'(h_t)) W_hh,
//   Mbar_t[k, i*m + j] = delta_ki alpha_m phi'(h_{t,i}) ahat_{t,j},  ahat_t = [a_{t-1}; x_t; 1]
// (alpha_m = alpha, or 1 with legacy_alpha_omission, §2.6), and G_ij = sum_k q_{t,k} M_t[k, i*m + j].
//
// Design: column p = i*m + j of M evolves on its own: M_t[:, p] needs only M_{t-1}[:, p], W_hh,
// phi'(h_t) and ahat_{t,j}, and G[p] only M_t[:, p]. So one thread owns whole columns: it forms
// J_t M[:, p] from the old column into a private scratch column (the CPU's tmp = W_hh M, one
// column at a time), and accumulates G[p] as it writes each entry; no thread reads another's
// column, so the influence update needs no barrier at all. Consecutive threads own consecutive
// p, so every row of M is read and written coalesced, and W_hh[k, :] is a warp-wide broadcast.
//  - online (RtrlInfluence, a phase of the persistent one-block kernel of online_rule.cuh): the
//    block's threads share the n*m columns, each looping over the streams (b outer, k inner:
//    the CPU's order of G's sum); one barrier, then W <- W - lr G, since every column reads
//    all of W_hh.
//  - sequence (rtrl_sequence_kernel, frozen weights): B * n * m independent columns over the
//    whole grid, each walking all T steps with M ping-ponging between two workspace slices and
//    its gradient partial in a register; the partials (B, n, m) are summed over b afterwards.
#pragma once

#include "../../kernels/common.cuh"
#include "../../kernels/credit.cuh"
#include "../../kernels/online_rule.cuh"

namespace torch_local_rnn {
namespace kernels {

// One column of one stream's influence through M <- J_t M + Mbar_t, read from src and written
// to dst (rows `stride` apart; src and dst must not overlap, like the CPU's W_hh M into tmp),
// and g += sum_k (scale credit_k) M_t[k, p] in the CPU's order. The column belongs to row i of
// W (p = i*m + j) and `pre` is ahat_{t,j}; the rounding follows the CPU:
// ((1 - alpha) M + (alpha phi'_k) (W_hh M)_k) + (alpha_m phi'_i) ahat_j.
template <typename T>
__device__ __forceinline__ void rtrl_column_step(const T* src, T* dst, int64_t stride, const T* weight_hh,
                                                 int64_t n, int64_t i, T alpha, T alpha_m, const T* dphi, T pre,
                                                 const T* credit, T scale, T& g) {
  for (int64_t k = 0; k < n; ++k) {
    const T* w = weight_hh + k * n;
    T acc = 0;
    for (int64_t l = 0; l < n; ++l) acc += w[l] * src[l * stride];
    T v = (T(1) - alpha) * src[k * stride] + (alpha * dphi[k]) * acc;
    if (k == i) v += (alpha_m * dphi[k]) * pre;
    dst[k * stride] = v;
    g += (scale * credit[k]) * v;
  }
}

// ahat_{t,j} of one stream: a_{t-1,j}, x_{t,j-n} or the bias input 1.
template <typename T>
__device__ __forceinline__ T rtrl_presynaptic(const T* prev, const T* x, int64_t n, int64_t I, int64_t j) {
  return j < n ? prev[j] : (j < n + I ? x[j - n] : T(1));
}

// The online rule's phase (two sub-phases with one barrier): influence update and
// G = (1/B) sum_b sum_k q_{t,b,k} M_{t,b}[k, :], then W <- W - lr G (and rec_grad += G).
// Its last sub-phase writes only W_hh, W_ih, b and rec_grad, which the readout SGD step that
// follows in the same phase never touches, so no trailing barrier is needed.
template <typename T>
struct RtrlInfluence {
  T* influence;  // (B, n, n*m): the carried state, updated in place
  T* tmp;        // (n, n*m): column p holds J_t M[:, p] of the stream being updated
  T* G;          // (n, m)
  T* rec_grad;   // (n, m) or null
  T alpha_m;     // the factor of Mbar_t (1: legacy_alpha_omission)

  __device__ void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t B = net.B, n = net.n, I = net.I, m = n + I + 1, row = n * m;
    const T scale = T(1) / T(B);
    TLR_BLOCK_LOOP(p, row) {
      const int64_t i = p / m, j = p - i * m;
      T g = 0;
      for (int64_t b = 0; b < B; ++b) {
        T* M = influence + b * n * row + p;
        const T pre = rtrl_presynaptic(act.prev + b * n, x + b * I, n, I, j);
        rtrl_column_step(M, tmp + p, row, net.weight_hh, n, i, net.alpha, alpha_m, act.dphi + b * n, pre,
                         act.q + b * n, scale, g);
        for (int64_t k = 0; k < n; ++k) M[k * row] = tmp[p + k * row];
      }
      G[p] = g;
    }
    __syncthreads();  // every column above read all of W_hh
    apply_recurrent_update(net, G, rec_grad);
  }
};

// leaky_rnn_rule_backward's RTRL: the gradient estimate sum_t sum_k g_{t,k} M_t[k, :] of a whole
// sequence with frozen weights, M_0 = 0, per stream.
template <typename T>
struct RtrlSequenceParams {
  T* influence;        // (B, n, n*m) workspace: M
  T* scratch;          // (B, n, n*m) workspace: M's other ping-pong slice
  T* partial;          // (B, n*m): the gradient of stream b
  const T* weight_hh;  // (n, n)
  const T* x;          // (steps, B, I)
  const T* h0;         // (B, n): a_0
  const T* output;     // (steps, B, n): a_t
  const T* dphi;       // (steps, B, n): phi'(h_t)
  const T* grad;       // (steps, B, n): g_t = dL/da_t
  int64_t steps, B, n, I;
  T alpha, alpha_m;
};

template <typename T>
__global__ void rtrl_sequence_kernel(RtrlSequenceParams<T> p) {
  const int64_t B = p.B, n = p.n, I = p.I, m = n + I + 1, row = n * m;
  TLR_GRID_LOOP(c, B * row) {
    const int64_t b = c / row, col = c - b * row, i = col / m, j = col - i * m;
    T* src = p.influence + b * n * row + col;
    T* dst = p.scratch + b * n * row + col;
    for (int64_t k = 0; k < n; ++k) src[k * row] = T(0);
    T g = 0;
    for (int64_t t = 0; t < p.steps; ++t) {
      const int64_t s = t * B + b;  // (t, b) row of the (steps, B, .) tensors
      const T* prev = t == 0 ? p.h0 + b * n : p.output + (s - B) * n;
      const T pre = rtrl_presynaptic(prev, p.x + s * I, n, I, j);
      rtrl_column_step(src, dst, row, p.weight_hh, n, i, p.alpha, p.alpha_m, p.dphi + s * n, pre, p.grad + s * n,
                       T(1), g);
      T* const swap = src;
      src = dst;
      dst = swap;
    }
    p.partial[c] = g;
  }
}

template <typename T>
void launch_rtrl_sequence(const RtrlSequenceParams<T>& p, cudaStream_t stream) {
  rtrl_sequence_kernel<T><<<grid_size(p.B * p.n * (p.n + p.I + 1)), kThreads, 0, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
