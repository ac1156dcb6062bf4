// Online KeRNL's step (Roth, Kanitscheider & Fiete 2019; docs/algorithms.md §3.7, order of §2.1), written once
// for both backends. Per step t, with k from the rates alpha~ by the version (kernl_variant.h):
//   a~ <- (1 - alpha)(a~ + zeta) + alpha phi(W_hh (a~ + zeta) + W_ih x_t + b)   (previous zeta injected)
//   zeta <- sigma N(0, I);  Gamma, Omega <- kernl_filters(k, zeta)
//   B <- diag(k) B + alpha phi'(h_t) ahat_t^T                  (learned_alpha_e: 1 - k in place of alpha)
//   eps = A Omega - (a~ - a_t);  A -= lr/B sum_b eps_b Omega_b^T;  alpha~ -= lr/B sum_b (A^T eps_b) (.) Gamma_b
//   G = 1/B sum_b diag(A^T q_b) B_b   (the updated A, the k of the rates before their update);  W <- W - lr G
// The streams are independent until the averaged updates of A, alpha~ and W. Each sum over streams is run
// by the worker that owns the summed entry, b ascending, into a buffer zeroed in the first phase, so no
// element branches on b == 0 and CPU and GPU add in the same order. O(n^2 + n m) per stream and step.
// With B >= kStreamGemmMin streams the products with W and A (the perturbed forward, A Omega_b, A^T eps_b,
// sum_b eps_b Omega_b^T, A^T q_b) are GEMMs over the streams (common/stream_products.h): at n = 256, B = 32
// they were most of the step, B matrix-vector products re-reading A and W; the sums over the streams are
// then the GEMM's, not b ascending (the last bits change; CPU and GPU still agree to rounding).
// Also here: the sequence form's reverse-time filter of one (b, i) row, run by both backends' loops.
#pragma once

#include "../../common/credit.h"
#include "../../common/stream_products.h"
#include "kernl_variant.h"

namespace torch_local_rnn {

template <typename Exec, typename T>
struct KernlStep {
  T* trace;          // (B, n, m), m = n + I + 1: the eligibility B
  T* A;              // (n, n): the learned mixing
  T* rates;          // (n): alpha~
  T* omega;          // (B, n): filtered noise
  T* gamma;          // (B, n): d Omega / d alpha~
  T* zeta;           // (B, n): the noise injected into the perturbed copy at the next step
  T* perturbed;      // (B, n): the perturbed copy's state a~
  T* count;          // (1): steps since the last reset (T_reset)
  const T* noise;    // (steps, B, n): standard normal draws, zeta_t = sigma noise_t
  T sigma, lr;       // perturbation size; SGD rate of A and alpha~
  KernlVersion version;
  bool learned_alpha_e;
  int64_t reset_interval;  // T_reset, 0: never
  // Scratch, allocated by the glue (rules/kernl/kernl.h, make_kernl_step).
  T* k;       // (n): the kernel of this step's rates
  T* moved;   // (B, n): a~ + zeta
  T* eps;     // (B, n): the prediction error
  T* weps;    // (B, n): w eps (w = 1/B), A's gradient factor
  T* imm;     // (B, n): the trace's immediate factor alpha phi'(h_t) (or (1 - k) phi'(h_t))
  T* ate;     // (B, n): A^T eps
  T* aq;      // (B, n): A^T q_t with the updated A
  T* grad_A;  // (n, n)
  T* ahat;    // (B, m)
  T* G;       // (n, m)
  T* rec_grad;  // (n, m) or null: accumulates G
  // Scratch of the GEMM path (B >= kStreamGemmMin), the streams as columns: (n, B) or (I, B).
  T* moved_t;  // (n, B): (a~ + zeta)^T
  T* x_t;      // (I, B): x_t^T
  T* prod_t;   // (n, B): W_hh (a~ + zeta)_b, then A Omega_b
  T* in_t;     // (n, B): W_ih x_b
  T* omega_t;  // (n, B): Omega^T

  // Eight phases. The reset flag is read before the first sync; the counter is written in phase 5. With B >=
  // kStreamGemmMin streams step_gemm runs instead (B = 1 runs this code unchanged).
  TLR_STEP void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    using Index = IndexOf<Exec>;
    const Index B = Index(net.B), n = Index(net.n), I = Index(net.I), m = n + I + 1, Bn = B * n;
    const T alpha = net.alpha, w = T(1) / T(B);
    const bool reset = reset_interval > 0 && count[0] == T(0);
    if (streams_as_gemm(B)) {
      step_gemm(net, x, act, reset);
      return;
    }

    // 1. T_reset restarts the perturbed copy at a_t (phase 2 writes a~ from moved) and the filters; a~ + zeta,
    //    k, ahat_t, and the sums' buffers zeroed.
    if (reset) {
      fill_values<Exec>(omega, Bn, T(0));
      fill_values<Exec>(gamma, Bn, T(0));
      fill_values<Exec>(trace, Bn * m, T(0));
    }
    Exec::loop(Bn, 1, [&](Index r) { moved[r] = (reset ? act.state[r] : perturbed[r]) + zeta[r]; });
    Exec::loop(n, 1, [&](Index i) { k[i] = kernl_kernel(version, rates[i]); });
    presynaptic<Exec>(act.prev, x, B, n, I, ahat);
    fill_values<Exec>(ate, Bn, T(0));
    fill_values<Exec>(aq, Bn, T(0));
    Exec::sync();

    // 2. The perturbed copy's step with the current weights and the same input, the new zeta, the filters;
    //    the trace's immediate factor.
    const T* nu = noise + act.t * Bn;
    Exec::loop2(B, n, n + I, [&](Index b, Index i) {
      const Index r = b * n + i;
      const T h = preactivation<Exec::kRotatedRows>(net.weight_hh, net.weight_ih, net.bias, n, I, i, moved + b * n,
                                                    x + b * I);
      perturbed[r] = (T(1) - alpha) * moved[r] + alpha * activate(net.f, h);
      zeta[r] = sigma * nu[r];
      kernl_filters(version, k[i], zeta[r], gamma[r], omega[r]);
      imm[r] = kernl_immediate(learned_alpha_e, alpha, k[i]) * act.dphi[r];
    });
    Exec::sync();

    // 3. eps_b = A Omega_b - (a~_b - a_{t,b}).
    Exec::loop2(B, n, n, [&](Index b, Index i) {
      const Index r = b * n + i;
      eps[r] = (act.state[r] - perturbed[r]) + dot(A + i * n, omega + b * n, n);
      weps[r] = w * eps[r];
    });
    Exec::sync();

    // 4. A^T eps_b before A moves, and A's stream-averaged gradient.
    add_transpose_times_each<Exec>(A, eps, B, n, n, ate);
    sum_outer_each<Exec>(grad_A, weps, omega, B, n, n, [](Index) { return T(0); }, [](Index, T) {});
    Exec::sync();

    finish(net, act);
  }

  // Phases 5-7 of both paths (the updates of A and alpha~, A^T q_b, the traces and W).
  TLR_STEP void finish(const OnlineNet<T>& net, const OnlineActivity<T>& act) const {
    using Index = IndexOf<Exec>;
    const Index B = Index(net.B), n = Index(net.n), I = Index(net.I), m = n + I + 1;
    const T w = T(1) / T(B);
    // 5. SGD on A and alpha~ (each rate's sum over streams by its owner), and the reset counter.
    Exec::loop(n * n, 1, [&](Index p) { A[p] -= lr * grad_A[p]; });
    Exec::loop(n, B, [&](Index j) {
      T g = 0;
      for (Index b = 0; b < B; ++b) g += w * ate[b * n + j] * gamma[b * n + j];
      rates[j] -= lr * g;
    });
    if (reset_interval > 0) {
      Exec::loop(1, 1, [&](Index) {
        count[0] = static_cast<T>((static_cast<int64_t>(count[0]) + 1) % reset_interval);
      });
    }
    Exec::sync();

    // 6. A^T q_b with the updated A.
    if (streams_as_gemm(B)) {
      streams_times_matrix<Exec>(act.q, B, A, n, n, aq);
    } else {
      add_transpose_times_each<Exec>(A, act.q, B, n, n, aq);
    }
    Exec::sync();

    // 7. The traces B_b <- diag(k) B_b + alpha phi'(h_t) ahat_t^T and G: one worker owns row i and column j of
    //    every stream's trace, streams in order.
    //    W <- W - lr G in the same pass (apply_summed_gradient): only W, G, the traces and rec_grad, so the
    //    readout's SGD phase may follow without a sync.
    const T *const kk = k, *const im = imm, *const ah = ahat, *const aqs = aq;
    T* const tr = trace;
    const T per_stream = T(B);
    apply_summed_gradient<Exec>(net, B, 2, [=](Index i, Index b, Index j) {
      const Index r = b * n + i;
      T& e = tr[r * m + j];
      e = kk[i] * e + im[r] * ah[b * m + j];
      return (aqs[r] / per_stream) * e;
    }, G, rec_grad);
  }

  // step's phases 1-4 with the products as GEMMs over the B streams (common/stream_products.h): the perturbed
  // forward, A Omega_b, A^T eps_b and A's gradient; finish's phase 6 likewise. Eleven phases in all.
  TLR_STEP void step_gemm(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act, bool reset) const {
    using Index = IndexOf<Exec>;
    const Index B = Index(net.B), n = Index(net.n), I = Index(net.I), Bn = B * n;
    const T alpha = net.alpha, w = T(1) / T(B);

    // 1. As step's, with the perturbed forward's operands as columns; ate and aq are GEMM outputs, not sums.
    if (reset) {
      fill_values<Exec>(omega, Bn, T(0));
      fill_values<Exec>(gamma, Bn, T(0));
      fill_values<Exec>(trace, Bn * (n + I + 1), T(0));
    }
    Exec::loop(Bn, 1, [&](Index r) { moved[r] = (reset ? act.state[r] : perturbed[r]) + zeta[r]; });
    Exec::loop(n, 1, [&](Index i) { k[i] = kernl_kernel(version, rates[i]); });
    presynaptic<Exec>(act.prev, x, B, n, I, ahat);
    {
      const T* from = reset ? act.state : perturbed;
      T *const mt = moved_t, *const z = zeta;
      Exec::loop2(n, B, 1, [=](Index j, Index b) { mt[j * B + b] = from[b * n + j] + z[b * n + j]; });
    }
    transpose_streams<Exec>(x, B, I, x_t);
    Exec::sync();

    // 1b. W_hh (a~ + zeta)_b and W_ih x_b for every stream.
    matrix_times_streams<Exec>(net.weight_hh, n, n, moved_t, B, prod_t);
    matrix_times_streams<Exec>(net.weight_ih, n, I, x_t, B, in_t);
    Exec::sync();

    // 2. The perturbed copy's step from the products (preactivation's order: b + W_hh v + W_ih x), Omega as
    //    columns too.
    const T* nu = noise + act.t * Bn;
    Exec::loop2(B, n, 16, [&](Index b, Index i) {
      const Index r = b * n + i;
      const T h = net.bias[i] + prod_t[i * B + b] + in_t[i * B + b];
      perturbed[r] = (T(1) - alpha) * moved[r] + alpha * activate(net.f, h);
      zeta[r] = sigma * nu[r];
      kernl_filters(version, k[i], zeta[r], gamma[r], omega[r]);
      omega_t[i * B + b] = omega[r];
      imm[r] = kernl_immediate(learned_alpha_e, alpha, k[i]) * act.dphi[r];
    });
    Exec::sync();

    // 3. A Omega_b for every stream, then eps_b = A Omega_b - (a~_b - a_{t,b}); weps holds w eps as (n, B),
    //    the left operand of A's gradient.
    matrix_times_streams<Exec>(A, n, n, omega_t, B, prod_t);
    Exec::sync();
    Exec::loop2(B, n, 1, [&](Index b, Index i) {
      const Index r = b * n + i;
      eps[r] = (act.state[r] - perturbed[r]) + prod_t[i * B + b];
      weps[i * B + b] = w * eps[r];
    });
    Exec::sync();

    // 4. A^T eps_b before A moves, and A's stream-averaged gradient.
    streams_times_matrix<Exec>(eps, B, A, n, n, ate);
    sum_outer_streams<Exec>(weps, n, omega, n, B, grad_A);
    Exec::sync();
    finish(net, act);
  }
};

// The sequence form's reverse-time filter c~_t = A^T g_t + k (.) c~_{t+1} for one (b, i): c holds A^T g_t at
// c[t * stride] on entry and c~_t on exit, k that unit's kernel. Each row filters on its own, so the CPU
// loops the rows and the GPU gives each a thread (kernl_filter.cuh).
template <typename T>
TLR_HOST_DEVICE void kernl_reverse_filter(T* c, int64_t steps, int64_t stride, T k) {
  if (steps <= 0) return;
  T next = c[(steps - 1) * stride];
  for (int64_t t = steps - 2; t >= 0; --t) {
    T& ct = c[t * stride];
    ct += k * next;
    next = ct;
  }
}

}  // namespace torch_local_rnn
