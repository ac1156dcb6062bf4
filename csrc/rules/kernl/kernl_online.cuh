// Online KeRNL on the GPU (Roth, Kanitscheider & Fiete 2019; docs/algorithms.md §3.7, v2020 semantics),
// the device mirror of rules/kernl/kernl_cpu.cpp's KernlRule. Per step t, with k = max(0, 1 - alpha~):
//   a~ <- (1 - alpha)(a~ + zeta) + alpha phi(W_hh (a~ + zeta) + W_ih x_t + b)   (previous zeta injected)
//   zeta <- sigma N(0, I);  Gamma <- k Gamma - Omega;  Omega <- k Omega + zeta
//   B <- diag(k) B + alpha phi'(h_t) ahat_t^T
//   eps = A Omega - (a~ - a_t);  A -= lr/B sum_b eps_b Omega_b^T;  alpha~ -= lr/B sum_b (A^T eps_b) (.) Gamma_b
//   G = 1/B sum_b diag(A^T q_b) B_b   (with the updated A);  W <- W - lr G
// The streams are independent until the averaged updates of A, alpha~ and W, so each phase runs
// all B streams at once over the block's threads (online_step.cuh says why one block), and the
// sums over b are done by the thread that owns the updated entry, in the CPU's order of b.
#pragma once

#include "../../common/activation.h"
#include "kernl_variant.h"
#include "../../kernels/common.cuh"
#include "../../kernels/online_rule.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct KernlOnline {
  T* trace;      // (B, n, m), m = n + I + 1: the eligibility B
  T* A;          // (n, n): the learned mixing
  T* rates;      // (n): alpha~
  T* omega;      // (B, n): filtered noise
  T* gamma;      // (B, n): d Omega / d alpha~
  T* zeta;       // (B, n): the noise injected into the perturbed copy at the next step
  T* perturbed;  // (B, n): the perturbed copy's state a~
  T* count;      // (1): steps since the last reset (T_reset)
  const T* noise;  // (steps, B, n): standard normal draws, zeta_t = sigma noise_t
  T sigma, lr;     // perturbation size; SGD rate of A and alpha~
  KernlVersion version;  // rules/kernl/kernl_variant.h
  bool learned_alpha_e;
  int64_t reset_interval;  // T_reset, 0: never
  T* moved;  // (B, n) scratch: a~ + zeta
  T* eps;    // (B, n) scratch: the prediction error, then A^T q_t
  T* ate;    // (B, n) scratch: A^T eps
  T* rec_grad;  // (n, m) or null: accumulates G

  // Seven phases, every thread through each: a value is read by another thread only after
  // the barrier that follows the phase writing it.
  __device__ void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t B = net.B, n = net.n, I = net.I, m = n + I + 1, Bn = B * n;
    const T alpha = net.alpha, w = T(1) / T(B);
    // Read by every thread before the barriers that precede thread 0's increment below.
    const bool reset = reset_interval > 0 && count[0] == T(0);

    // 1. T_reset restarts the perturbed copy at a_t and the filters; then a~ + zeta (the same
    //    thread owns index r in both, so no barrier between them).
    TLR_BLOCK_LOOP(r, Bn) {
      if (reset) {
        perturbed[r] = act.state[r];
        omega[r] = T(0);
        gamma[r] = T(0);
      }
      moved[r] = perturbed[r] + zeta[r];
    }
    __syncthreads();

    // 2. The perturbed copy's step with the current weights and the same input, the new zeta
    //    and the filters, one thread per (b, i); and the eligibility trace, one per (b, i, j),
    //    zeroed first on a reset (the CPU fills it with 0 and then filters it).
    const T* nu = noise + act.t * Bn;
    TLR_BLOCK_LOOP(r, Bn) {
      const int64_t b = r / n, i = r - b * n;
      const T* wr = net.weight_hh + i * n;
      const T* ur = net.weight_ih + i * I;
      const T* mb = moved + b * n;
      const T* xb = x + b * I;
      T h = net.bias[i];
      for (int64_t j = 0; j < n; ++j) h += wr[j] * mb[j];
      for (int64_t j = 0; j < I; ++j) h += ur[j] * xb[j];
      perturbed[r] = (T(1) - alpha) * moved[r] + alpha * activate(net.f, h);
      const T k = kernl_kernel(version, rates[i]);
      const T z = sigma * nu[r];
      zeta[r] = z;
      T g = gamma[r], o = omega[r];
      kernl_filters(version, k, z, g, o);
      gamma[r] = g;
      omega[r] = o;
    }
    TLR_BLOCK_LOOP(idx, Bn * m) {
      const int64_t r = idx / m, j = idx - r * m;
      const int64_t b = r / n, i = r - b * n;
      const T pre = j < n ? act.prev[b * n + j] : (j < n + I ? x[b * I + (j - n)] : T(1));
      const T old = reset ? T(0) : trace[idx];
      const T k = kernl_kernel(version, rates[i]);
      trace[idx] = k * old + kernl_immediate(learned_alpha_e, alpha, k) * act.dphi[r] * pre;
    }
    __syncthreads();

    // 3. eps_b = A Omega_b - (a~_b - a_{t,b}), summed as (a_t - a~) + sum_j A_ij Omega_j like the CPU.
    TLR_BLOCK_LOOP(r, Bn) {
      const int64_t b = r / n, i = r - b * n;
      const T* ar = A + i * n;
      const T* ob = omega + b * n;
      T e = act.state[r] - perturbed[r];
      for (int64_t j = 0; j < n; ++j) e += ar[j] * ob[j];
      eps[r] = e;
    }
    __syncthreads();

    // 4. (A^T eps_b)_j, before A moves.
    TLR_BLOCK_LOOP(r, Bn) {
      const int64_t b = r / n, j = r - b * n;
      const T* eb = eps + b * n;
      T acc = 0;
      for (int64_t k = 0; k < n; ++k) acc += eb[k] * A[k * n + j];
      ate[r] = acc;
    }
    __syncthreads();

    // 5. SGD on A and alpha~ with the stream-averaged gradients (each thread owns its entries),
    //    and the reset counter.
    TLR_BLOCK_LOOP(p, n * n) {
      const int64_t i = p / n, j = p - i * n;
      T g = 0;
      for (int64_t b = 0; b < B; ++b) g += w * eps[b * n + i] * omega[b * n + j];
      A[p] -= lr * g;
    }
    TLR_BLOCK_LOOP(j, n) {
      T g = 0;
      for (int64_t b = 0; b < B; ++b) g += w * ate[b * n + j] * gamma[b * n + j];
      rates[j] -= lr * g;
    }
    if (threadIdx.x == 0 && reset_interval > 0) {
      count[0] = static_cast<T>((static_cast<int64_t>(count[0]) + 1) % reset_interval);
    }
    __syncthreads();

    // 6. A^T q_b with the updated A, into eps (free since phase 5's barrier).
    TLR_BLOCK_LOOP(r, Bn) {
      const int64_t b = r / n, j = r - b * n;
      const T* qb = act.q + b * n;
      T acc = 0;
      for (int64_t k = 0; k < n; ++k) acc += qb[k] * A[k * n + j];
      eps[r] = acc;
    }
    __syncthreads();

    // 7. G_ij = 1/B sum_b (A^T q_b)_i B_b,ij and W <- W - lr G, one thread per entry of W. It
    //    touches neither the readout nor the activity, so the readout's SGD phase that follows
    //    without a barrier cannot race with it.
    TLR_BLOCK_LOOP(idx, n * m) {
      const int64_t i = idx / m, j = idx - i * m;
      T g = 0;
      for (int64_t b = 0; b < B; ++b) g += w * eps[b * n + i] * trace[(b * n + i) * m + j];
      T* wp = j < n ? net.weight_hh + i * n + j : (j < n + I ? net.weight_ih + i * I + (j - n) : net.bias + i);
      *wp -= net.lr * g;
      if (rec_grad != nullptr) rec_grad[idx] += g;
    }
  }
};

}  // namespace kernels
}  // namespace torch_local_rnn
