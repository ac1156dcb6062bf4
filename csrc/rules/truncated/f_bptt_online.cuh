// F-BPTT(K), "future-facing" truncated BPTT on the GPU (docs/algorithms.md §3.9), the device mirror of
// rules/truncated/f_bptt_cpu.cpp.
//
// Online form (a phase of the persistent single-block kernel, online_rule.cuh): each step pushes
// (phi'(h_t), ahat_t, c_t = q_t) into the ring and sends q_t back through the stored steps,
//   v <- J(h_{t-i+1})^T v,  c_{t-i} += v   for i = 1 .. K-1  (J rebuilt with the current W_hh),
// then, once K steps are stored, applies the oldest step's gradient (c_s (.) alpha phi'(h_s)) ahat_s^T,
// s = t - K + 1: a delayed update that holds losses s .. t.
//
// Sequence form (frozen weights): every step gets the credit of the K losses from it on,
//   c_s = sum_{i < K} J_{s+1}^T ... J_{s+i}^T g_{s+i},
// accumulated in the CPU's order (for t = 0 .. T-1, g_t is sent back K-1 steps), so the sums round
// alike. Streams are independent: one block per stream, each with its own (v, v_next, scratch).
#pragma once

#include "../../kernels/common.cuh"
#include "../../kernels/credit.cuh"
#include "history.cuh"
#include "../../kernels/online_rule.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct FBpttOnline {
  History<T> h;

  __device__ void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t B = net.B, n = net.n, m = n + net.I + 1, Bn = B * n, K = h.K;
    const int64_t c = h.count_before(), slot = c % K;  // read by every thread before the first barrier
    const int64_t stored = c + 1 < K ? c + 1 : K;
    h.store(slot, net, x, act);
    block_copy(act.q, Bn, h.v);
    if (stored == K) block_fill(h.G, n * m, T(0));  // G is not touched until the update below
    __syncthreads();
    // The ring and the count are per call, so the swaps of v and v_next stay in registers.
    T* v = h.v;
    T* v_next = h.v_next;
    for (int64_t i = 1; i < stored; ++i) {
      const int64_t newer = (c - i + 1) % K, older = (c - i) % K;
      // No barrier after the previous credit add: that phase only read v, and the scratch this
      // overwrites was last read by the previous out phase, which ended at the barrier below.
      jacobian_transpose(net.weight_hh, B, n, net.alpha, h.dphi + newer * Bn, v, v_next, h.scratch);
      __syncthreads();
      T* const swap = v;
      v = v_next;
      v_next = swap;
      T* credit = h.credit + older * Bn;
      TLR_BLOCK_LOOP(r, Bn) credit[r] += v[r];
    }
    if (stored == K) {
      const int64_t oldest = (c + 1) % K;
      __syncthreads();  // the last credit add wrote c_oldest
      add_credit_outer(h.G, h.credit + oldest * Bn, h.dphi + oldest * Bn, h.ahat + oldest * B * m, B, n, m,
                       h.alpha_m, T(1) / T(B));
      __syncthreads();
      // Touches W_hh, W_ih, b and rec_grad only, never the readout the loop's next phase updates.
      apply_recurrent_update(net, h.G, h.rec_grad);
    }
    // Kept below 2K (same slot, same "full"), so a float count stays exact on any stream length.
    h.set_count(c + 1 >= 2 * K ? c + 1 - K : c + 1);
  }
};

// Per-stream vectors of the sequence kernel: v, v_next, scratch.
constexpr int64_t kFBpttVectors = 3;

template <typename T>
__global__ void f_bptt_credit_kernel(TruncatedCreditParams<T> p) {
  extern __shared__ __align__(16) unsigned char f_bptt_shared[];
  const int64_t b = blockIdx.x, n = p.n, Bn = p.B * n;
  T* v = p.in_shared ? reinterpret_cast<T*>(f_bptt_shared) : p.workspace + b * kFBpttVectors * n;
  T* v_next = v + n;
  T* scratch = v + 2 * n;
  for (int64_t t = 0; t < p.steps; ++t) {
    const T* g = p.grad + t * Bn + b * n;
    T* ct = p.credit + t * Bn + b * n;
    TLR_BLOCK_LOOP(r, n) {
      v[r] = g[r];
      ct[r] += g[r];
    }
    __syncthreads();
    for (int64_t i = 1; i < p.K && i <= t; ++i) {
      jacobian_transpose(p.weight_hh, int64_t(1), n, p.alpha, p.dphi + (t - i + 1) * Bn + b * n, v, v_next,
                         scratch);
      __syncthreads();
      T* const swap = v;
      v = v_next;
      v_next = swap;
      T* older = p.credit + (t - i) * Bn + b * n;
      TLR_BLOCK_LOOP(r, n) older[r] += v[r];
    }
    __syncthreads();  // the next step overwrites v, which the last credit add read
  }
}

}  // namespace kernels
}  // namespace torch_local_rnn
