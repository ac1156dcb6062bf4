// Online RFLO on the GPU (docs/algorithms.md §3.6, order of §2.1), one trace per stream:
//   B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T,   ahat_t = [a_{t-1}; x_t; 1],
//   G_t = (1/B) sum_b diag(q_{t,b}) B_{t,b},        W <- W - lr G_t   (W = [W_hh | W_ih | b]).
// The whole T-step loop is one launch of one block (online_rule.cuh, online_step.cuh).
#pragma once

#include "../../kernels/common.cuh"
#include "../../kernels/online_rule.cuh"

namespace torch_local_rnn {
namespace kernels {

// The rule's phase: each thread owns entries (i, j) of W, updates the B traces of that entry
// and applies their averaged gradient, so W needs no reduction or atomics; consecutive
// threads take consecutive j, so the (B, n, m) trace is read and written coalesced.
template <typename T>
struct RfloTrace {
  T* trace;  // (B, n, m), m = n + I + 1
  T rate;    // k = trace_alpha

  __device__ void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t B = net.B, n = net.n, I = net.I, m = n + I + 1;
    const T decay = T(1) - rate, step_size = net.lr / T(B);
    TLR_BLOCK_LOOP(idx, n * m) {
      const int64_t i = idx / m, j = idx - i * m;
      T* w = j < n ? net.weight_hh + i * n + j : (j < n + I ? net.weight_ih + i * I + (j - n) : net.bias + i);
      T v = *w;
      for (int64_t b = 0; b < B; ++b) {
        const int64_t r = b * n + i;
        const T pre = j < n ? act.prev[b * n + j] : (j < n + I ? x[b * I + (j - n)] : T(1));
        T& tr = trace[r * m + j];
        tr = decay * tr + rate * act.dphi[r] * pre;
        v -= step_size * act.q[r] * tr;
      }
      *w = v;
    }
  }
};

}  // namespace kernels
}  // namespace torch_local_rnn
