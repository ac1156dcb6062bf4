// Credit primitives of the rules' steps, written once for both backends (the execution policy `Exec`
// of common/online_step.h spreads the elements): the presynaptic vector, Jacobian products taken
// without forming J (docs/algorithms.md §9), outer-product accumulations into G, and the recurrent
// update. Each is one phase: the caller puts Exec::sync() between a primitive and what reads its result
// (a primitive of two phases syncs inside and says so). Inputs and outputs must not alias unless
// stated. The sums run in the same order on both backends, so CPU and GPU round alike.
#pragma once

#include <cstdint>

#include "dot.h"
#include "online_net.h"
#include "online_step.h"

namespace torch_local_rnn {

// ahat_j of one stream: a_{t-1,j}, x_{t,j-n} or the bias input 1 (the entry presynaptic() writes).
template <typename T, typename Index>
TLR_STEP T presynaptic_entry(const T* prev, const T* x, Index n, Index I, Index j) {
  return j < n ? prev[j] : (j < n + I ? x[j - n] : T(1));
}

// ahat_b = [a_{t-1,b}; x_{t,b}; 1] into out (B, n + I + 1).
template <typename Exec, typename T>
TLR_STEP void presynaptic(const T* prev, const T* x, IndexOf<Exec> B, IndexOf<Exec> n, IndexOf<Exec> I, T* out) {
  using Index = IndexOf<Exec>;
  const Index m = n + I + 1;
  Exec::loop2(B, m, 1, [&](Index b, Index j) { out[b * m + j] = presynaptic_entry(prev + b * n, x + b * I, n, I, j); });
}

// f(i, k, j, w) for the entries w of W = [W_hh | W_ih | b] (row i, column j of W, k = 0 .. inner-1 in
// order for each entry, Exec::loop_owned3): one callback per block of W, so no element branches on which
// block it is in, the CPU's inner loop runs along a contiguous row, and a big step is one parallel region.
template <typename Exec, typename T, typename F>
TLR_STEP void for_each_weight(const OnlineNet<T>& net, IndexOf<Exec> inner, IndexOf<Exec> work, F&& f) {
  using Index = IndexOf<Exec>;
  const Index n = Index(net.n), I = Index(net.I);
  T *const w_hh = net.weight_hh, *const w_ih = net.weight_ih, *const bias = net.bias;
  // By value: a scalar or pointer captured by reference is re-read after every store to W (it might alias),
  // which keeps GCC from vectorising the CPU's inner loop; so are the callers' captures below.
  Exec::loop_owned3(
      n, inner, n, I, 1, work, [=, &f](Index i, Index k, Index j) { f(i, k, j, w_hh[i * n + j]); },
      [=, &f](Index i, Index k, Index j) { f(i, k, n + j, w_ih[i * I + j]); },
      [=, &f](Index i, Index k, Index) { f(i, k, n + I, bias[i]); });
}

// W <- W - lr G for W = [W_hh | W_ih | b], and rec_grad += G when given. With an optimiser other than sgd
// (common/online_optimizer.h) G is captured into net.opt.grad_rec instead and W stays. One phase.
template <typename Exec, typename T>
TLR_STEP void apply_recurrent_update(const OnlineNet<T>& net, const T* G, T* rec_grad) {
  using Index = IndexOf<Exec>;
  const Index m = Index(net.n + net.I + 1);
  const T lr = net.lr;
  if (captures_gradients<Exec>(net)) {
    T* const captured = net.opt.grad_rec;
    Exec::loop(net.n * m, 1, [=](Index k) { captured[k] = G[k]; });
  } else {
    for_each_weight<Exec>(net, 1, 1, [=](Index i, Index, Index j, T& w) { w -= lr * G[i * m + j]; });
  }
  if (rec_grad != nullptr) Exec::loop(net.n * m, 1, [=](Index k) { rec_grad[k] += G[k]; });
}

// W <- W - lr G with G[i, j] = sum_k term(i, k, j) (k = 0 .. inner-1 in order: the streams) for W = [W_hh |
// W_ih | b], and rec_grad += G when given, in ONE pass over W and G: each entry's owner sums its terms into
// G and applies it at the last k, so G needs no fill and W no second pass (at the papers' sizes W, G and a
// rule's other n x n buffers overflow L1 together, and every pass over them costs its misses again); with
// one k, G is not touched. G rounds as fill-then-add (0 + t = t) and W as apply_recurrent_update; G's
// contents are scratch afterwards. term may update state that only this
// entry's owner touches (a trace entry). With an optimiser other than sgd, G is captured into
// net.opt.grad_rec at the last k instead of applied (G may then be net.opt.grad_rec itself). One phase.
template <typename Exec, typename T, typename Term>
TLR_STEP void apply_summed_gradient(const OnlineNet<T>& net, IndexOf<Exec> inner, IndexOf<Exec> work, Term term, T* G,
                                    T* rec_grad) {
  using Index = IndexOf<Exec>;
  const Index m = Index(net.n + net.I + 1), last = inner - 1;
  const T lr = net.lr;
  T* const captured = captures_gradients<Exec>(net) ? net.opt.grad_rec : nullptr;
  if (inner == 1) {  // one stream (the papers' setting): no running sum to keep, so G is not written at all
    if (captured != nullptr) {
      for_each_weight<Exec>(net, 1, work, [=](Index i, Index, Index j, T&) {
        const T g = term(i, 0, j);
        captured[i * m + j] = g;
        if (rec_grad != nullptr) rec_grad[i * m + j] += g;
      });
      return;
    }
    for_each_weight<Exec>(net, 1, work, [=](Index i, Index, Index j, T& w) {
      const T g = term(i, 0, j);
      w -= lr * g;
      if (rec_grad != nullptr) rec_grad[i * m + j] += g;
    });
    return;
  }
  for_each_weight<Exec>(net, inner, work, [=](Index i, Index k, Index j, T& w) {
    T& g = G[i * m + j];
    g = (k == 0 ? T(0) : g) + term(i, k, j);
    if (k == last) {
      if (captured != nullptr) {
        captured[i * m + j] = g;
      } else {
        w -= lr * g;
      }
      if (rec_grad != nullptr) rec_grad[i * m + j] += g;
    }
  });
}

// out_b = J_t^T v_b = (1 - alpha) v_b + W_hh^T (alpha phi'(h_t) (.) v_b) for each stream b. Two phases
// (s = alpha phi' (.) v into scratch (B * n), then out), synced between; W_hh^T s is a sum of rows
// s_k W_hh[k, :] in k order, so the CPU's inner loop runs along contiguous rows.
template <typename Exec, typename T>
TLR_STEP void jacobian_transpose(const T* weight_hh, IndexOf<Exec> B, IndexOf<Exec> n, T alpha, const T* dphi,
                                 const T* v, T* out, T* scratch) {
  using Index = IndexOf<Exec>;
  Exec::loop(B * n, 1, [=](Index r) { scratch[r] = alpha * dphi[r] * v[r]; });
  Exec::sync();
  Exec::loop_owned(B, n, n, 1, [=](Index b, Index k, Index j) {
    T& o = out[b * n + j];
    const T start = k == 0 ? (T(1) - alpha) * v[b * n + j] : o;
    o = start + scratch[b * n + k] * weight_hh[k * n + j];
  });
}

// out_b = J_t v_b = (1 - alpha) v_b + alpha phi'(h_t) (.) (W_hh v_b) for each stream. One phase.
template <typename Exec, typename T>
TLR_STEP void jacobian_times(const T* weight_hh, IndexOf<Exec> B, IndexOf<Exec> n, T alpha, const T* dphi,
                             const T* v, T* out) {
  using Index = IndexOf<Exec>;
  Exec::loop2(B, n, n, [&](Index b, Index k) {
    const Index r = b * n + k;
    out[r] = (T(1) - alpha) * v[r] + alpha * dphi[r] * dot(weight_hh + k * n, v + b * n, n);
  });
}

// out_b = J_t X_b = (1 - alpha) X_b + alpha diag(phi'(h_t,b)) (W_hh X_b) for B streams' X_b (n, cols), stream
// b at b * n * cols in X and out: the B products by Exec::matmul (BLAS on the CPU) into out, then one row
// scaling over all streams. Two phases, synced between (so B streams cost two phases, not 2B); out must not
// alias X.
template <typename Exec, typename T>
TLR_STEP void jacobian_times_matrix(const T* weight_hh, IndexOf<Exec> B, IndexOf<Exec> n, IndexOf<Exec> cols, T alpha,
                                    const T* dphi, const T* X, T* out) {
  using Index = IndexOf<Exec>;
  for (Index b = 0; b < B; ++b) {
    Exec::matmul(n, cols, n, weight_hh, n, X + b * n * cols, cols, out + b * n * cols, cols);
  }
  Exec::sync();
  Exec::loop2(B * n, cols, 1, [=](Index r, Index c) {
    const Index p = r * cols + c;
    out[p] = (T(1) - alpha) * X[p] + (alpha * dphi[r]) * out[p];
  });
}

// G += scale * sum_b (alpha phi'(h) (.) c_b) ahat_b^T, G of shape (n, m), b in order. One phase.
template <typename Exec, typename T>
TLR_STEP void add_credit_outer(T* G, const T* credit, const T* dphi, const T* ahat, IndexOf<Exec> B, IndexOf<Exec> n,
                               IndexOf<Exec> m, T alpha, T scale) {
  using Index = IndexOf<Exec>;
  Exec::loop_owned(n, B, m, 1, [&](Index i, Index b, Index j) {
    G[i * m + j] += scale * alpha * dphi[b * n + i] * credit[b * n + i] * ahat[b * m + j];
  });
}

// R_b += M^T Q_b for B vectors Q_b (rows) into R_b (cols), k in order into each R_b[j] (a mixing matrix
// contracted with every stream's vector at once), R zeroed by the caller in an earlier phase. One phase.
template <typename Exec, typename T>
TLR_STEP void add_transpose_times_each(const T* M, const T* Q, IndexOf<Exec> B, IndexOf<Exec> rows, IndexOf<Exec> cols,
                                       T* R) {
  using Index = IndexOf<Exec>;
  Exec::loop_owned(B, rows, cols, 1,
                   [&](Index b, Index k, Index j) { R[b * cols + j] += Q[b * rows + k] * M[k * cols + j]; });
}

// grad = start + sum_b U_b V_b^T for B pairs U_b (rows), V_b (cols), b in order (grad[p] starts at start(p)),
// and then last(p, grad[p]) for each entry p = i * cols + j, all in ONE pass by each entry's owner: a
// gradient formed and applied (last: M[p] -= lr g) without a fill pass before and an update pass after;
// keep = false: nothing reads grad afterwards, so with one stream it is not written. One phase; last may
// write only entry p of its arrays.
template <typename Exec, typename T, typename Start, typename Last>
TLR_STEP void sum_outer_each(T* grad, const T* U, const T* V, IndexOf<Exec> B, IndexOf<Exec> rows, IndexOf<Exec> cols,
                             Start start, Last last, bool keep = true) {
  using Index = IndexOf<Exec>;
  const Index final_b = B - 1;
  if (B == 1 && !keep) {  // nothing reads grad afterwards and there is no running sum: do not write it
    Exec::loop2(rows, cols, 1, [=](Index i, Index j) {
      const Index p = i * cols + j;
      last(p, start(p) + U[i] * V[j]);
    });
    return;
  }
  Exec::loop_owned(rows, B, cols, 1, [=](Index i, Index b, Index j) {
    const Index p = i * cols + j;
    T& g = grad[p];
    g = (b == 0 ? start(p) : g) + U[b * rows + i] * V[b * cols + j];
    if (b == final_b) last(p, g);
  });
}

// out[k] = value for k < count. One phase.
template <typename Exec, typename T>
TLR_STEP void fill_values(T* out, IndexOf<Exec> count, T value) {
  using Index = IndexOf<Exec>;
  Exec::loop(count, 1, [=](Index k) { out[k] = value; });
}

// out[k] = in[k] for k < count. One phase.
template <typename Exec, typename T>
TLR_STEP void copy_values(const T* in, IndexOf<Exec> count, T* out) {
  using Index = IndexOf<Exec>;
  Exec::loop(count, 1, [=](Index k) { out[k] = in[k]; });
}

}  // namespace torch_local_rnn
