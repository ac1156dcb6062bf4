// E-BPTT(K), efficient truncated BPTT over non-overlapping windows on the GPU (docs/algorithms.md
// §3.10), the device mirror of rules/truncated/e_bptt_cpu.cpp.
//
// Online form (a phase of the persistent single-block kernel, online_rule.cuh): each step stores
// (phi'(h_t), ahat_t, q_t); when a window of K steps is full, exact BPTT inside it,
//   c <- q_t;  G += (c (.) alpha phi'(h_s)) ahat_s^T;  c <- q_{s-1} + J(h_s)^T c   (s = t .. t-K+1),
// is applied once (the sum of K per-step terms) and the window starts again.
//
// Sequence form (frozen weights): BPTT with the credit cut at window starts,
//   c_t = g_t + J_{t+1}^T c_{t+1}   unless t + 1 = T or t + 1 is a multiple of K,
// a reverse-time recursion per stream: one block per stream, each with its own (back, scratch).
#pragma once

#include "../../kernels/common.cuh"
#include "../../kernels/credit.cuh"
#include "history.cuh"
#include "../../kernels/online_rule.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct EBpttOnline {
  History<T> h;  // credit holds q_s here; v, v_next carry the window's credit back

  __device__ void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t B = net.B, n = net.n, m = n + net.I + 1, Bn = B * n, K = h.K;
    const int64_t slot = h.count_before();  // the position in the window; read before the first barrier
    const bool full = slot == K - 1;
    h.store(slot, net, x, act);
    if (full) {
      block_fill(h.G, n * m, T(0));
      block_copy(act.q, Bn, h.v);  // = credit[slot], read from q_t since the store writes it now
    }
    __syncthreads();
    h.set_count((slot + 1) % K);
    if (!full) return;
    const T scale = T(1) / T(B);
    for (int64_t s = K - 1; s >= 0; --s) {
      // add_credit_outer and the scratch phase of jacobian_transpose only read v: one phase.
      add_credit_outer(h.G, h.v, h.dphi + s * Bn, h.ahat + s * B * m, B, n, m, h.alpha_m, scale);
      if (s == 0) break;
      jacobian_transpose(net.weight_hh, B, n, net.alpha, h.dphi + s * Bn, h.v, h.v_next, h.scratch);
      __syncthreads();
      const T* q = h.credit + (s - 1) * Bn;
      TLR_BLOCK_LOOP(r, Bn) h.v[r] = q[r] + h.v_next[r];
      __syncthreads();
    }
    __syncthreads();  // the last add_credit_outer wrote G
    // Touches W_hh, W_ih, b and rec_grad only, never the readout the loop's next phase updates.
    apply_recurrent_update(net, h.G, h.rec_grad);
  }
};

// Per-stream vectors of the sequence kernel: back, scratch.
constexpr int64_t kEBpttVectors = 2;

template <typename T>
__global__ void e_bptt_credit_kernel(TruncatedCreditParams<T> p) {
  extern __shared__ __align__(16) unsigned char e_bptt_shared[];
  const int64_t b = blockIdx.x, n = p.n, Bn = p.B * n;
  T* back = p.in_shared ? reinterpret_cast<T*>(e_bptt_shared) : p.workspace + b * kEBpttVectors * n;
  T* scratch = back + n;
  for (int64_t t = p.steps - 1; t >= 0; --t) {
    const T* g = p.grad + t * Bn + b * n;
    T* ct = p.credit + t * Bn + b * n;
    if (t + 1 < p.steps && (t + 1) % p.K != 0) {  // credit flows back within a window only
      const int64_t o = (t + 1) * Bn + b * n;
      jacobian_transpose(p.weight_hh, int64_t(1), n, p.alpha, p.dphi + o, p.credit + o, back, scratch);
      __syncthreads();
      TLR_BLOCK_LOOP(r, n) ct[r] = g[r] + back[r];
    } else {
      TLR_BLOCK_LOOP(r, n) ct[r] = g[r];
    }
    __syncthreads();  // the next (earlier) step reads c_t whole
  }
}

}  // namespace kernels
}  // namespace torch_local_rnn
