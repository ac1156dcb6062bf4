// Online RFLO's step (docs/algorithms.md §3.6, order of §2.1), written once for both backends, one
// trace per stream:
//   B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T,   ahat_t = [a_{t-1}; x_t; 1],
//   G_t = (1/B) sum_b diag(q_{t,b}) B_{t,b},        W <- W - lr G_t   (W = [W_hh | W_ih | b]).
// (With another optimiser than sgd, G is formed and captured instead: common/online_optimizer.h.)
// One phase: each entry (i, j) of W is owned by one worker, which updates the B traces of that entry and
// applies their terms in stream order, so W needs no reduction and no G is formed. The CPU walks
// row i, then stream b, then the contiguous columns j; the GPU gives each thread an entry, so
// consecutive threads read and write the (B, n, m) trace coalesced.
#pragma once

#include "../../common/credit.h"
#include "../../common/online_step.h"

namespace torch_local_rnn {

template <typename Exec, typename T>
struct RfloTrace {
  T* trace;     // (B, n, m), m = n + I + 1
  T rate;       // k = trace_alpha
  T* rec_grad;  // (n, m) or null: accumulates G_t
  T* scratch;   // (n, m): G under sgd when rec_grad is given, else null

  // One phase over W's three blocks (Exec::loop_owned3), each reading its part of ahat_t where it lies
  // (a_{t-1}, x_t, 1): no ahat copy, no phase before it.
  TLR_STEP void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    using Index = IndexOf<Exec>;
    const Index B = Index(net.B), n = Index(net.n), I = Index(net.I), m = n + I + 1;
    const T decay = T(1) - rate, step_size = net.lr / T(B), k = rate;
    T *const tr = trace, *const w_hh = net.weight_hh, *const w_ih = net.weight_ih, *const bias = net.bias;
    const T *const prev = act.prev, *const dphi = act.dphi, *const q = act.q;
    const bool captures = captures_gradients<Exec>(net);
    if (captures || rec_grad != nullptr) {
      // G = (1/B) sum_b diag(q_b) B_b formed: captured for another optimiser than sgd, or summed into rec_grad
      // (then W moves by -lr G once per step rather than stream by stream: equal up to rounding)
      const T per_stream = T(B);
      apply_summed_gradient<Exec>(net, B, 2, [=](Index i, Index b, Index j) {
        const Index r = b * n + i;
        T& e = tr[r * m + j];
        e = decay * e + (k * dphi[r]) * presynaptic_entry(prev + b * n, x + b * I, n, I, j);
        return (q[r] / per_stream) * e;
      }, captures ? net.opt.grad_rec : scratch, rec_grad);
      return;
    }
    // By value (common/credit.h: a capture by reference is re-read after every store, which stops GCC
    // vectorising the CPU's inner loop). The weight is the policy's accumulator (Exec::loop_owned3_acc: the
    // CPU's memory element as before, a register on the GPU), and a stream's reads (its trace entry, phi', q
    // and the presynaptic entry) come before its update's writes, so the GPU issues several streams' reads
    // before it stores (common/online_step.h): one thread's streams are then chained only through w.
    const auto stage = [=](Index i, Index b, Index j, T pre) TLR_INLINE_ELEMENT {
      const Index r = b * n + i;
      T* const entry = tr + (r * m + j);  // one index: (tr + r m) + j would widen and add twice on the GPU
      const T old = *entry, drive = (k * dphi[r]) * pre, gain = step_size * q[r];
      return [=](T& w) TLR_INLINE_ELEMENT {
        const T e = decay * old + drive;
        *entry = e;
        w -= gain * e;
      };
    };
    Exec::loop_owned3_acc(
        n, B, n, I, 1, 2, [=](Index i, Index j) -> T& { return w_hh[i * n + j]; },
        [=](Index i, Index b, Index j) TLR_INLINE_ELEMENT { return stage(i, b, j, prev[b * n + j]); },
        [=](Index i, Index j) -> T& { return w_ih[i * I + j]; },
        [=](Index i, Index b, Index j) TLR_INLINE_ELEMENT { return stage(i, b, n + j, x[b * I + j]); },
        [=](Index i, Index) -> T& { return bias[i]; },
        [=](Index i, Index b, Index) TLR_INLINE_ELEMENT { return stage(i, b, n + I, T(1)); });
  }

  // The state the one-block GPU kernel keeps in shared memory next to the weights when all of it fits
  // (kernels/online_rule.cuh): the trace, read and written by every step. f(pointer, count) may re-point it.
  template <typename F>
  TLR_STEP void for_each_cached_state(const OnlineNet<T>& net, F&& f) {
    f(trace, net.B * net.n * (net.n + net.I + 1));
  }
};

}  // namespace torch_local_rnn
