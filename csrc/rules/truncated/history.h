// The history of the truncated BPTTs (f_bptt, e_bptt; docs/algorithms.md §3.9, §3.10), written once for
// both backends (the policy `Exec` of common/online_step.h spreads the elements): the stored steps'
// phi'(h_s) and credit c_s, and the two walks back through them that carry credit to earlier steps,
//   E-BPTT: c_{s-1} += J_s^T c_s            for s = last .. first + 1 (BPTT inside a window),
//   F-BPTT: v <- J_{t-i+1}^T v, c_{t-i} += v  for i = 1 .. count - 1 (v = c_t, one loss sent back),
// J_s^T v = (1 - alpha) v + W_hh^T (alpha phi'(h_s) (.) v) (common/credit.h). The online forms keep the
// steps in a ring of K slots, the sequence forms in the whole (T, B, n) sequence (a ring that never
// wraps); both use the same walks, so they round alike.
#pragma once

#include "../../common/credit.h"

namespace torch_local_rnn {

// S streams of n units per step, step j at offset (j % ring) * stride in dphi and credit. work holds
// 3 S n values: the jacobian's scratch and two vectors the walks carry credit in.
template <typename Exec, typename T>
struct CreditSteps {
  const T* dphi;
  T* credit;
  int64_t S, n, stride, ring;
  T* work;

  TLR_STEP int64_t at(int64_t j) const { return (j % ring) * stride; }

  // out = J_newer^T v, then c_{newer-1} += out. Three phases, synced between (not after); out must not
  // alias v or the credit.
  TLR_STEP void carry_back(const T* weight_hh, T alpha, int64_t newer, const T* v, T* out) const {
    using Index = IndexOf<Exec>;
    const Index Sn = Index(S) * Index(n);
    jacobian_transpose<Exec>(weight_hh, S, n, alpha, dphi + at(newer), v, out, work);
    Exec::sync();
    T* older = credit + at(newer - 1);
    Exec::loop(Sn, 1, [&](Index r) { older[r] += out[r]; });
  }

  // E-BPTT's walk: c_{s-1} += J_s^T c_s for s = last down to first + 1; each(s) runs once c_s is final,
  // in one phase with the jacobian's first (so it may read c_s but not write it or the work). Synced
  // after every step but the last each(first).
  template <typename Each>
  TLR_STEP void back_through_window(const T* weight_hh, T alpha, int64_t first, int64_t last, Each&& each) const {
    T* const back = work + S * n;
    for (int64_t s = last;; --s) {
      each(s);
      if (s == first) break;
      carry_back(weight_hh, alpha, s, credit + at(s), back);
      Exec::sync();
    }
  }

  // F-BPTT's walk: step newest's credit (c_newest, nothing added to it yet) sent back through the
  // count - 1 steps before it, v ping-ponging between the two work vectors. No sync between steps: the
  // add phase of one only reads the v the next one's first phase reads, and the scratch the next one
  // writes was last read before the add's barrier. Not synced after.
  TLR_STEP void send_back(const T* weight_hh, T alpha, int64_t newest, int64_t count) const {
    const T* v = credit + at(newest);
    T* out = work + S * n;
    T* spare = work + 2 * S * n;
    for (int64_t i = 1; i < count; ++i) {
      carry_back(weight_hh, alpha, newest - i + 1, v, out);
      v = out;
      T* const written = out;
      out = spare;
      spare = written;
    }
  }
};

// The online state (state[0..3] of the descriptor, rules/truncated/descriptor.cpp): rings of the last K
// steps' phi'(h_t), ahat_t and credit, each (K, B, .), and the step count (a one-element tensor of the
// network's dtype), plus the per-call buffers the glue allocates.
//
// The count lives in the state and, on the GPU, is read and written inside the persistent kernel: every
// worker reads it (count_now) before the step's first sync and the next value is written (set_count)
// only after it, so no worker sees this step's write while it still reads this step's count.
template <typename Exec, typename T>
struct History {
  int64_t K;
  T *dphi, *ahat, *credit, *count;  // (K, B, n), (K, B, m), (K, B, n), (1)
  T *work, *G;                      // (3 B n) for CreditSteps and (n, m) scratch
  T* rec_grad;                      // (n, m) or null
  T alpha_m;                        // the factor alpha of the gradient (1: legacy_alpha_omission, §2.6)

  TLR_STEP int64_t count_now() const { return static_cast<int64_t>(*count); }

  // One phase (one worker writes); call after a sync that follows every count_now of the step.
  TLR_STEP void set_count(int64_t value) const {
    T* const c = count;
    Exec::loop(1, 1, [&](IndexOf<Exec>) { *c = static_cast<T>(value); });
  }

  // Writes step t's phi'(h_t), ahat_t and c_t = q_t into ring slot `slot`. One phase.
  TLR_STEP void store(int64_t slot, const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t Bn = net.B * net.n, m = net.n + net.I + 1;
    copy_values<Exec>(act.dphi, Bn, dphi + slot * Bn);
    presynaptic<Exec>(act.prev, x, net.B, net.n, net.I, ahat + slot * net.B * m);
    copy_values<Exec>(act.q, Bn, credit + slot * Bn);
  }

  // The ring as CreditSteps, J from the current W_hh.
  TLR_STEP CreditSteps<Exec, T> steps(const OnlineNet<T>& net) const {
    return {dphi, credit, net.B, net.n, net.B * net.n, K, work};
  }

  // G = 0. One phase.
  TLR_STEP void clear_gradient(const OnlineNet<T>& net) const {
    fill_values<Exec>(G, net.n * (net.n + net.I + 1), T(0));
  }

  // G += (1/B) sum_b (c_{slot,b} (.) alpha_m phi'(h_slot,b)) ahat_{slot,b}^T. One phase.
  TLR_STEP void add_gradient(const OnlineNet<T>& net, int64_t slot) const {
    const int64_t B = net.B, n = net.n, m = n + net.I + 1;
    add_credit_outer<Exec>(G, credit + slot * B * n, dphi + slot * B * n, ahat + slot * B * m, B, n, m, alpha_m,
                           T(1) / T(B));
  }

  // W <- W - lr G (and rec_grad += G). One phase: it touches W_hh, W_ih, b and rec_grad only, never the
  // readout the online loop updates in the same phase.
  TLR_STEP void apply_gradient(const OnlineNet<T>& net) const { apply_recurrent_update<Exec>(net, G, rec_grad); }
};

}  // namespace torch_local_rnn
