// Online RFLO's step (docs/algorithms.md §3.6, order of §2.1), written once for both backends, one
// trace per stream:
//   B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T,   ahat_t = [a_{t-1}; x_t; 1],
//   G_t = (1/B) sum_b diag(q_{t,b}) B_{t,b},        W <- W - lr G_t   (W = [W_hh | W_ih | b]).
// The update is one phase: each entry (i, j) of W is owned by one worker, which updates the B traces of that entry
// and applies their terms in stream order, so W needs no reduction and no G is formed. The CPU walks
// row i, then stream b, then the contiguous columns j; the GPU gives each thread an entry, so
// consecutive threads read and write the (B, n, m) trace coalesced.
#pragma once

#include "../../common/credit.h"

namespace torch_local_rnn {

template <typename Exec, typename T>
struct RfloTrace {
  T* trace;  // (B, n, m), m = n + I + 1
  T* ahat;   // (B, m) scratch
  T rate;    // k = trace_alpha

  // Two phases: ahat_t, then the traces and W.
  TLR_STEP void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t B = net.B, n = net.n, I = net.I, m = n + I + 1;
    const T decay = T(1) - rate, step_size = net.lr / T(B), k = rate;
    T *const tr = trace, *const pre = ahat;
    const T *const dphi = act.dphi, *const q = act.q;
    presynaptic<Exec>(act.prev, x, B, n, I, pre);
    Exec::sync();
    for_each_weight<Exec>(net, B, 2, [=](int64_t i, int64_t b, int64_t j, T& w) {  // by value: credit.h
      const int64_t r = b * n + i;
      T& e = tr[r * m + j];
      e = decay * e + (k * dphi[r]) * pre[b * m + j];
      w -= (step_size * q[r]) * e;
    });
  }
};

}  // namespace torch_local_rnn
