// E-BPTT(K), efficient truncated BPTT over non-overlapping windows (docs/algorithms.md §3.10), written once
// for both backends. Online: each step stores (phi'(h_t), ahat_t, q_t); when a window of K steps is full,
// exact BPTT inside it,
//   c_s = q_s + J_{s+1}^T c_{s+1}  (c_t = q_t),   G = (1/B) sum_s (c_s (.) alpha_m phi'(h_s)) ahat_s^T,
// for s = t .. t-K+1, is applied once (the sum of K per-step terms) and the window starts again. The c_s
// are formed in place in the ring (its slots are dead once the window is applied). Windows start at
// the first step (online: after a reset).
// Sequence form (frozen weights): the same recursion on c = g, cut at t = 0, K, 2K, ... (the last window
// possibly partial); with K >= T it is the BPTT gradient.
#pragma once

#include "history.h"

namespace torch_local_rnn {

template <typename Exec, typename T>
struct EBptt {
  static constexpr const char* kName = "e_bptt";
  static constexpr int64_t kCountLimit = 1;  // the count is the position in the window, below K

  History<Exec, T> h;

  TLR_STEP void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t K = h.K, slot = h.count_now();
    const bool full = slot == K - 1;
    h.store(slot, net, x, act);
    if (full) h.clear_gradient(net);
    Exec::sync();
    h.set_count((slot + 1) % K);
    if (!full) return;
    h.steps(net).back_through_window(net.weight_hh, net.alpha, 0, K - 1,
                                     [&](int64_t s) { h.add_gradient(net, s); });
    Exec::sync();
    h.apply_gradient(net);
  }

  // steps.credit holds g on entry and c on exit, for `length` steps.
  TLR_STEP static void sequence(const CreditSteps<Exec, T>& steps, const T* weight_hh, T alpha, int64_t length,
                                int64_t K) {
    for (int64_t last = length - 1; last >= 0; last -= last % K + 1) {
      steps.back_through_window(weight_hh, alpha, last - last % K, last, [](int64_t) {});
    }
  }
};

}  // namespace torch_local_rnn
