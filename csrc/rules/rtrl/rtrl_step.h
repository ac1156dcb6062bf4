// RTRL (Williams & Zipser 1989; docs/algorithms.md §3.2), exact forward-mode credit assignment, written
// once for both backends. Per stream the influence matrix M (n x n*m), M[k, i*m + j] = d a_k / d W_ij, follows
//   M_t = J_t M_{t-1} + Mbar_t,  J_t = (1 - alpha) I + alpha diag(phi'(h_t)) W_hh,
//   Mbar_t[k, i*m + j] = delta_ki alpha_m phi'(h_{t,i}) ahat_{t,j},  ahat_t = [a_{t-1}; x_t; 1]
// (alpha_m = alpha, or 1 with legacy_alpha_omission, §2.6; Mbar_t is added sparsely, never formed), and the
// gradient is G_ij = sum_k q_{t,k} M_t[k, i*m + j]. O(n^3 m) time per step, the product W_hh M by
// Exec::matmul (BLAS on the CPU).
//  - online (RtrlInfluence): the streams one after another, G = (1/B) sum_b in stream order, then W -= lr G;
//  - sequence (rtrl_sequence_stream, leaky_rnn_rule_backward): one stream from M_0 = 0 with frozen
//    weights, G += sum_t sum_k g_{t,k} M_t[k, :]. The CPU runs it stream after stream; the GPU runs a
//    whole-grid kernel instead (rtrl_sequence.cuh), which shares the per-entry math below.
#pragma once

#include "../../common/credit.h"

namespace torch_local_rnn {

// The per-entry math of the step, shared with the GPU's sequence kernel so both round alike:
// M_t[k, p] before Mbar_t from the old entry and (W_hh M_{t-1})[k, p] ...
template <typename T>
TLR_STEP T rtrl_propagated(T alpha, T dphi_k, T old, T product) {
  return (T(1) - alpha) * old + (alpha * dphi_k) * product;
}

// ... Mbar_t's entry of row k = i, added to it ...
template <typename T>
TLR_STEP T rtrl_immediate(T alpha_m, T dphi_i, T ahat_j) {
  return (alpha_m * dphi_i) * ahat_j;
}

// ... and the term k of G[p] = scale sum_k q_k M_t[k, p].
template <typename T>
TLR_STEP T rtrl_gradient_term(T scale, T q_k, T m) {
  return (scale * q_k) * m;
}

// One stream's M <- J_t M + Mbar_t: tmp = W_hh M, then M <- (1 - alpha) M + (alpha phi'_k) tmp row by row
// (the CPU's inner loop runs along a contiguous row), then Mbar_t on row k = i in its own phase (a branch
// on k == i in the row loop would cost every entry). Three phases, synced between; tmp (n, n*m) must not
// alias M.
template <typename Exec, typename T>
TLR_STEP void rtrl_influence_step(const T* weight_hh, IndexOf<Exec> n, IndexOf<Exec> m, T alpha, T alpha_m,
                                  const T* dphi, const T* ahat, T* M, T* tmp) {
  using Index = IndexOf<Exec>;
  const Index row = n * m;
  Exec::matmul(n, row, n, weight_hh, n, M, row, tmp, row);
  Exec::sync();
  Exec::loop_owned(n, 1, row, 1, [=](Index k, Index, Index p) {
    T& e = M[k * row + p];
    e = rtrl_propagated(alpha, dphi[k], e, tmp[k * row + p]);
  });
  Exec::sync();
  Exec::loop2(n, m, 1,
              [=](Index i, Index j) { M[i * row + i * m + j] += rtrl_immediate(alpha_m, dphi[i], ahat[j]); });
}

// G += scale sum_k q_k M[k, :] with G viewed as (n, m), k in order for each entry: one phase, one worker
// per entry (i, j) (the CPU walks i, then k, then the contiguous j).
template <typename Exec, typename T>
TLR_STEP void rtrl_add_gradient(const T* M, const T* q, IndexOf<Exec> n, IndexOf<Exec> m, T scale, T* G) {
  using Index = IndexOf<Exec>;
  const Index row = n * m;
  Exec::loop_owned(n, n, m, 1, [=](Index i, Index k, Index j) {
    G[i * m + j] += rtrl_gradient_term(scale, q[k], M[k * row + i * m + j]);
  });
}

// The online rule: ahat_t and G = 0, then per stream b in order M_b <- J_t M_b + Mbar_t and
// G += (1/B) sum_k q_k M_b[k, :], then W <- W - lr G (and rec_grad += G). The last phase writes only
// W_hh, W_ih, b and rec_grad, which the readout step sharing its phase does not touch.
template <typename Exec, typename T>
struct RtrlInfluence {
  T* influence;  // (B, n, n*m): the carried state, updated in place
  T* tmp;        // (n, n*m): W_hh M_b of the stream being updated
  T* ahat;       // (B, m)
  T* G;          // (n, m)
  T* rec_grad;   // (n, m) or null
  T alpha_m;     // the factor of Mbar_t (1: legacy_alpha_omission)

  // The widest phase, W_hh M_b (n x n*m entries): what sizes the GPU's grid kernel and decides when a step
  // leaves the one-block kernel (kernels/online_rule_grid.cuh, docs/design.md §3.7).
  TLR_STEP static int64_t grid_items(int64_t /*B*/, int64_t n, int64_t I) { return n * n * (n + I + 1); }

  TLR_STEP void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    using Index = IndexOf<Exec>;
    const Index B = Index(net.B), n = Index(net.n), I = Index(net.I), m = n + I + 1;
    const T scale = T(1) / T(B);
    presynaptic<Exec>(act.prev, x, B, n, I, ahat);
    fill_values<Exec>(G, n * m, T(0));
    Exec::sync();
    for (Index b = 0; b < B; ++b) {
      T* M = influence + b * n * n * m;
      rtrl_influence_step<Exec>(net.weight_hh, n, m, net.alpha, alpha_m, act.dphi + b * n, ahat + b * m, M, tmp);
      Exec::sync();
      // No barrier after: the next stream's product reads neither G nor M_b and writes only tmp, whose
      // last reader is behind two barriers.
      rtrl_add_gradient<Exec>(M, act.q + b * n, n, m, scale, G);
    }
    Exec::sync();
    apply_recurrent_update<Exec>(net, G, rec_grad);
  }
};

// The sequence form's view of leaky_rnn's saved forward (frozen weights).
template <typename T>
struct RtrlSequence {
  const T* weight_hh;  // (n, n)
  const T* x;          // (steps, B, I)
  const T* h0;         // (B, n): a_0
  const T* output;     // (steps, B, n): a_t
  const T* dphi;       // (steps, B, n): phi'(h_t)
  const T* grad;       // (steps, B, n): g_t = dL/da_t, in q_t's place
  int64_t steps, B, n, I;
  T alpha, alpha_m;

  // a_{t-1} of stream b.
  TLR_STEP const T* prev(int64_t t, int64_t b) const { return t == 0 ? h0 + b * n : output + ((t - 1) * B + b) * n; }
};

// Stream b through the whole sequence from M_0 = 0: G += sum_t sum_k g_{t,k} M_t[k, :]. M, tmp: (n, n*m);
// ahat: (m). Ends with a barrier, so G is complete and M free for the next stream.
template <typename Exec, typename T>
TLR_STEP void rtrl_sequence_stream(const RtrlSequence<T>& s, int64_t b, T* M, T* tmp, T* ahat, T* G) {
  const int64_t n = s.n, I = s.I, m = n + I + 1;
  fill_values<Exec>(M, n * n * m, T(0));
  for (int64_t t = 0; t < s.steps; ++t) {
    const int64_t r = t * s.B + b;  // (t, b) row of the (steps, B, .) tensors
    // No barrier before: the last step's gradient phase reads only M, G and g_t.
    presynaptic<Exec>(s.prev(t, b), s.x + r * I, 1, n, I, ahat);
    Exec::sync();
    rtrl_influence_step<Exec>(s.weight_hh, n, m, s.alpha, s.alpha_m, s.dphi + r * n, ahat, M, tmp);
    Exec::sync();
    rtrl_add_gradient<Exec>(M, s.grad + r * n, n, m, T(1), G);
  }
  Exec::sync();
}

}  // namespace torch_local_rnn
