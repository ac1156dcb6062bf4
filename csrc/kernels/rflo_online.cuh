// Online RFLO on the GPU (algorithms.md §3.6, order of §2.1), one trace per stream:
//   B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T,   ahat_t = [a_{t-1}; x_t; 1],
//   G_t = (1/B) sum_b diag(q_{t,b}) B_{t,b},        W <- W - lr G_t   (W = [W_hh | W_ih | b]).
// The whole T-step loop is one launch of one block (see online_step.cuh for why).
#pragma once

#include "common.cuh"
#include "online_step.cuh"

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

template <typename T>
struct RfloOnlineParams {
  OnlineNet<T> net;
  const T* x;       // (steps, B, I)
  const T* y;       // (steps, B, O)
  T* hidden;        // (B, n): a_0 on entry, a_T on exit
  T* trace;         // (B, n, n + I + 1), carried across calls
  T* losses;        // (steps, B)
  T* workspace;     // online_activity_numel(B, n, O), used when the activity exceeds shared memory
  int64_t steps;
  T rate;           // trace_alpha
  bool activity_in_shared;  // set by the launcher
};

template <typename T>
__global__ void __launch_bounds__(kOnlineThreads) rflo_online_kernel(RfloOnlineParams<T> p) {
  extern __shared__ __align__(16) unsigned char online_shared[];
  T* base = p.activity_in_shared ? reinterpret_cast<T*>(online_shared) : p.workspace;
  const RfloTrace<T> rule{p.trace, p.rate};
  run_online_block(p.net, rule, p.x, p.y, p.hidden, p.losses, p.steps,
                   carve_online_activity(base, p.net.B, p.net.n));
}

template <typename T>
void launch_rflo_online(RfloOnlineParams<T> p, cudaStream_t stream) {
  const size_t bytes = online_activity_numel(p.net.B, p.net.n, p.net.O) * sizeof(T);
  p.activity_in_shared = bytes <= kOnlineSharedBytes;
  rflo_online_kernel<T><<<1, kOnlineThreads, p.activity_in_shared ? bytes : 0, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
