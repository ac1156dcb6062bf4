// leaky_rnn_rule_backward's RTRL on the GPU (docs/algorithms.md §3.2): the sequence form of
// rules/rtrl/rtrl_step.h, sum_t sum_k g_{t,k} M_t[k, :] per stream from M_0 = 0 with frozen weights, as
// a whole-grid kernel rather than the shared step with one block per stream: column p = i*m + j of M
// evolves on its own (M_t[:, p] needs only M_{t-1}[:, p], W_hh, phi'(h_t) and ahat_{t,j}, and G[p] only
// M_t[:, p]), so B * n * m threads each walk one column through all T steps without a single barrier,
// where one block per stream would leave most of the GPU idle at small B (B = 1: one SM against a few)
// and pay three barriers per step. The entries round as the shared step's (rtrl_propagated,
// rtrl_immediate, rtrl_gradient_term), the product W_hh M as BlockExec::matmul's (l in order).
// Consecutive threads own consecutive columns, so each row of M is read and written coalesced and
// W_hh[k, :] is a warp-wide broadcast.
#pragma once

#include "../../kernels/common.cuh"
#include "rtrl_step.h"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct RtrlSequenceParams {
  RtrlSequence<T> seq;
  T* influence;  // (B, n, n*m) workspace: M
  T* scratch;    // (B, n, n*m) workspace: M's other ping-pong slice (J_t M reads the whole old column)
  T* partial;    // (B, n*m): the gradient of stream b, summed over b by the glue
};

template <typename T>
__global__ void rtrl_sequence_kernel(RtrlSequenceParams<T> p) {
  const RtrlSequence<T>& s = p.seq;
  const int64_t B = s.B, n = s.n, I = s.I, m = n + I + 1, row = n * m;
  TLR_GRID_LOOP(c, B * row) {
    const int64_t b = c / row, col = c - b * row, i = col / m, j = col - i * m;
    T* src = p.influence + b * n * row + col;
    T* dst = p.scratch + b * n * row + col;
    for (int64_t k = 0; k < n; ++k) src[k * row] = T(0);
    T g = 0;
    for (int64_t t = 0; t < s.steps; ++t) {
      const int64_t r = t * B + b;  // (t, b) row of the (steps, B, .) tensors
      const T pre = presynaptic_entry(s.prev(t, b), s.x + r * I, n, I, j);
      const T *dphi = s.dphi + r * n, *q = s.grad + r * n;
      for (int64_t k = 0; k < n; ++k) {
        const T* w = s.weight_hh + k * n;
        T acc = 0;
        for (int64_t l = 0; l < n; ++l) acc += w[l] * src[l * row];
        T v = rtrl_propagated(s.alpha, dphi[k], src[k * row], acc);
        if (k == i) v += rtrl_immediate(s.alpha_m, dphi[k], pre);
        dst[k * row] = v;
        g += rtrl_gradient_term(T(1), q[k], v);
      }
      T* const swap = src;
      src = dst;
      dst = swap;
    }
    p.partial[c] = g;
  }
}

template <typename T>
void launch_rtrl_sequence(const RtrlSequenceParams<T>& p, cudaStream_t stream) {
  rtrl_sequence_kernel<T><<<grid_size(p.seq.B * p.seq.n * (p.seq.n + p.seq.I + 1)), kThreads, 0, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
