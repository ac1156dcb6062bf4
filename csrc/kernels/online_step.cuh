// The pieces of one online training step shared by every online rule on the GPU, in the order
// of algorithms.md §2.1 (device mirror of cpu/online_step_cpu.h): forward with the current
// weights, readout and loss, the immediate credit q_t, then the rule's traces and recurrent
// update, then the readout's SGD step.
//
// Design: ONE thread block runs the whole time loop (a persistent kernel), each phase spread
// over the block's threads with __syncthreads() between phases. The papers' network (n = 32,
// B = 1) is a few thousand flops per step and every step depends on the weights the previous
// step wrote, so the cost is latency: one launch per sequence and block barriers (~100 ns)
// beat a kernel launch per phase (~3-5 us each) by far, and a single block needs no grid-wide
// sync. It is correct for any size (every phase loops over its elements), but it uses one SM,
// so large B * n * m would want a multi-block streaming kernel (engineering.md §3.3b).
//
// Coherence: weights are read and written inside the kernel (feedback may even alias
// weight_out), so nothing here is __restrict__ or read through __ldg: __syncthreads() orders
// plain global and shared accesses within the block, the read-only cache path would not.
#pragma once

#include "../common/activation.h"
#include "../common/online_net.h"
#include "common.cuh"
#include "leaky_rnn_pointwise.cuh"

namespace torch_local_rnn {
namespace kernels {

constexpr int kOnlineThreads = 256;

// The per-step activity lives in shared memory when it fits the 48 KiB every launch may
// use without opting in (always at the papers' sizes), else in a global workspace.
constexpr size_t kOnlineSharedBytes = 48 * 1024;

__host__ __device__ inline int64_t online_activity_numel(int64_t B, int64_t n, int64_t O) {
  return 4 * B * n + B * O;
}

template <typename T>
__device__ OnlineActivity<T> carve_online_activity(T* base, int64_t B, int64_t n) {
  const int64_t Bn = B * n;
  return {base, base + Bn, base + 2 * Bn, base + 4 * Bn, base + 3 * Bn};
}

// h_t = W_hh a_{t-1} + W_ih x_t + b, then the shared leaky update; one thread per (b, i).
template <typename T>
__device__ void online_forward(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) {
  const int64_t n = net.n, I = net.I;
  TLR_BLOCK_LOOP(r, net.B * n) {
    const int64_t b = r / n, i = r - b * n;
    const T* w = net.weight_hh + i * n;
    const T* u = net.weight_ih + i * I;
    const T* ap = act.prev + b * n;
    const T* xb = x + b * I;
    T h = net.bias[i];
    for (int64_t j = 0; j < n; ++j) h += w[j] * ap[j];
    for (int64_t j = 0; j < I; ++j) h += u[j] * xb[j];
    leaky_unit(net.f, net.alpha, ap[i], h, act.state[r], act.dphi[r]);
  }
}

// z_t = W_out a_t + b_out into act.error; one thread per (b, o).
template <typename T>
__device__ void online_logits(const OnlineNet<T>& net, const OnlineActivity<T>& act) {
  const int64_t n = net.n, O = net.O;
  TLR_BLOCK_LOOP(r, net.B * O) {
    const int64_t b = r / O, o = r - b * O;
    const T* w = net.weight_out + o * n;
    const T* a = act.state + b * n;
    T z = net.bias_out[o];
    for (int64_t i = 0; i < n; ++i) z += w[i] * a[i];
    act.error[r] = z;
  }
}

// Loss and e_t from z_t, one thread per stream (O is small: 2 in the Add task):
//   cross-entropy: L = -sum_k y_k log(max(softmax(z)_k, 1e-4)), e = softmax(z) - y
//                  (max-subtracted softmax; the floor is in the loss only, algorithms.md §1, §7);
//   mse:           L = 1/2 mean_k (z_k - y_k)^2, e = z - y (the gradient of 1/2 sum: the papers' quirk);
//   mse_mean:      the same L, e = (z - y) / O (the gradient of the reported loss).
template <typename T>
__device__ void online_loss(const OnlineNet<T>& net, const T* y, const OnlineActivity<T>& act, T* loss) {
  const int64_t O = net.O;
  TLR_BLOCK_LOOP(b, net.B) {
    T* e = act.error + b * O;
    const T* yb = y + b * O;
    T l = 0;
    if (net.loss == Loss::CrossEntropy) {
      T zmax = e[0];
      for (int64_t o = 1; o < O; ++o) zmax = e[o] > zmax ? e[o] : zmax;
      T total = 0;
      for (int64_t o = 0; o < O; ++o) total += (e[o] = exp(e[o] - zmax));
      for (int64_t o = 0; o < O; ++o) {
        const T p = e[o] / total;
        l -= yb[o] * log(p > T(1e-4) ? p : T(1e-4));
        e[o] = p - yb[o];
      }
    } else {
      for (int64_t o = 0; o < O; ++o) {
        e[o] -= yb[o];
        l += e[o] * e[o];
      }
      l *= T(0.5) / T(O);
      if (net.loss == Loss::MseMean) {
        for (int64_t o = 0; o < O; ++o) e[o] /= T(O);
      }
    }
    loss[b] = l;
  }
}

// q_t = feedback^T e_t (W_out^T, or W_FB^T for feedback alignment); one thread per (b, i).
template <typename T>
__device__ void online_credit(const OnlineNet<T>& net, const OnlineActivity<T>& act) {
  const int64_t n = net.n, O = net.O;
  TLR_BLOCK_LOOP(r, net.B * n) {
    const int64_t b = r / n, i = r - b * n;
    const T* e = act.error + b * O;
    T q = 0;
    for (int64_t o = 0; o < O; ++o) q += net.feedback[o * n + i] * e[o];
    act.q[r] = q;
  }
}

// Readout delta rule averaged over streams: W_out -= lr/B sum_b e_b a_b^T, b_out -= lr/B sum_b e_b.
// One thread owns one weight (column n is the bias), so the sum over b needs no reduction.
template <typename T>
__device__ void online_readout_sgd(const OnlineNet<T>& net, const OnlineActivity<T>& act) {
  const int64_t n = net.n, O = net.O;
  const T step = net.lr / T(net.B);
  TLR_BLOCK_LOOP(idx, O * (n + 1)) {
    const int64_t o = idx / (n + 1), i = idx - o * (n + 1);
    T* w = i < n ? net.weight_out + o * n + i : net.bias_out + o;
    T v = *w;
    if (i < n && net.l2 > T(0)) v -= net.lr * net.l2 * v;  // L2 on W_out, not b_out
    for (int64_t b = 0; b < net.B; ++b) v -= step * act.error[b * O + o] * (i < n ? act.state[b * n + i] : T(1));
    *w = v;
  }
}

// Runs `steps` online steps in the calling block. `rule.step(net, x_t, act)` updates the rule's
// traces from (a_{t-1}, x_t, phi'(h_t)) and applies its recurrent update using q_t; it may not
// touch the readout, since it runs in the same phase as the readout's SGD step. A rule of
// several phases puts __syncthreads() between them (every thread calls step); the loop syncs
// after its last phase.
template <typename T, typename Rule>
__device__ void run_online_block(const OnlineNet<T>& net, const Rule& rule, const T* x, const T* y,
                                 T* hidden, T* losses, int64_t steps, OnlineActivity<T> act) {
  const int64_t Bn = net.B * net.n;
  TLR_BLOCK_LOOP(k, Bn) act.prev[k] = hidden[k];
  __syncthreads();
  for (int64_t t = 0; t < steps; ++t) {
    const T* xt = x + t * net.B * net.I;
    act.label = y + t * net.B * net.O;
    act.t = t;
    online_forward(net, xt, act);
    if (net.decay != nullptr) {  // W_hh, W_ih before the rule's update (read-only here, like the forward)
      TLR_BLOCK_LOOP(k, net.n * net.n) net.decay[k] = net.weight_hh[k];
      TLR_BLOCK_LOOP(k, net.n * net.I) net.decay[net.n * net.n + k] = net.weight_ih[k];
    }
    __syncthreads();
    online_logits(net, act);
    __syncthreads();
    online_loss(net, act.label, act, losses + t * net.B);
    __syncthreads();
    online_credit(net, act);
    __syncthreads();
    rule.step(net, xt, act);
    online_readout_sgd(net, act);
    __syncthreads();
    if (net.decay != nullptr) {  // L2: W -= lr l2 W_old for W_hh, W_ih
      const T shrink = net.lr * net.l2;
      TLR_BLOCK_LOOP(k, net.n * net.n) net.weight_hh[k] -= shrink * net.decay[k];
      TLR_BLOCK_LOOP(k, net.n * net.I) net.weight_ih[k] -= shrink * net.decay[net.n * net.n + k];
      __syncthreads();
    }
    const auto next = act.state;  // a_t becomes the next step's a_{t-1}
    act.state = act.prev;
    act.prev = next;
  }
  TLR_BLOCK_LOOP(k, Bn) hidden[k] = act.prev[k];
}

}  // namespace kernels
}  // namespace torch_local_rnn
