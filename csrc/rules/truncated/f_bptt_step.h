// F-BPTT(K), "future-facing" truncated BPTT (docs/algorithms.md §3.9), written once for both backends.
// Online: each step t stores (phi'(h_t), ahat_t, c_t = q_t) and sends q_t back through the stored steps,
//   v <- J_{t-i+1}^T v,  c_{t-i} += v   for i = 1 .. K-1  (J with the current W_hh),
// then, once K steps are stored, applies the oldest step's gradient (1/B) (c_s (.) alpha_m phi'(h_s))
// ahat_s^T, s = t - K + 1: a delayed update that holds losses s .. t.
// Sequence form (frozen weights): the same walk for t = 0 .. T-1 on c = g, so every step gets the credit
// of the K losses from it on; with K >= T it is the BPTT gradient.
#pragma once

#include "history.h"

namespace torch_local_rnn {

template <typename Exec, typename T>
struct FBptt {
  static constexpr const char* kName = "f_bptt";
  // The count is kept below 2K (same slot, same "full"), so a float count stays exact on any stream length.
  static constexpr int64_t kCountLimit = 2;

  History<Exec, T> h;

  TLR_STEP void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t K = h.K, c = h.count_now(), stored = c + 1 < K ? c + 1 : K;
    const bool full = stored == K;
    h.store(c % K, net, x, act);
    if (full) h.clear_gradient(net);
    Exec::sync();
    h.steps(net).send_back(net.weight_hh, net.alpha, c, stored);
    if (full) {
      Exec::sync();
      h.add_gradient(net, (c + 1) % K);
      Exec::sync();
      h.apply_gradient(net);
    }
    h.set_count(c + 1 >= 2 * K ? c + 1 - K : c + 1);
  }

  // steps.credit holds g on entry and c on exit, for `length` steps.
  TLR_STEP static void sequence(const CreditSteps<Exec, T>& steps, const T* weight_hh, T alpha, int64_t length,
                                int64_t K) {
    for (int64_t t = 0; t < length; ++t) steps.send_back(weight_hh, alpha, t, t + 1 < K ? t + 1 : K);
  }
};

}  // namespace torch_local_rnn
