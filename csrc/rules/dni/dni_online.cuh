// Online DNI and DNI(b) on the GPU (Jaderberg et al. 2017; docs/algorithms.md §3.8 v2020 order, §4; device
// mirror of rules/dni/dni_cpu.cpp). The credit is read out of the apical compartment,
// U_t = A [a_t; y*_t; 1], and A is trained by bootstrapping one step late:
//   J~ <- J~ - lr_j (J~ a_{t-1} - a_t) a_{t-1}^T                       (dni_b: the learned W_a)
//   U*_{t-1} = q_{t-1} + Jx^T sigma_L(A_frozen [a_t; y*_t; 1])        (Jx = J_t or J~; sigma_L = id or tanh)
//   A <- A - lr_sg ((A [a_{t-1}; y*_{t-1}; 1] - U*_{t-1}) [a_{t-1}; y*_{t-1}; 1]^T + sg_l2 A)
//   A_frozen <- A every fix_interval steps
//   G = (U_t (.) alpha phi'(h_t)) ahat_t^T,  or with the eligibility trace (alpha_e > 0)
//   E <- (1 - alpha_e) E + alpha_e phi'(h_t) ahat_t^T,  G = diag(U_t) E;   W <- W - lr G.
// No sequence form (U_t reads the label y*_t), so only this online phase exists. The whole T-step
// loop is one launch of one block (online_rule.cuh, online_step.cuh says why).
#pragma once

#include "../../kernels/common.cuh"
#include "../../kernels/credit.cuh"
#include "../../kernels/online_rule.cuh"

namespace torch_local_rnn {
namespace kernels {

// The rule's phases, each spread over the block with a barrier before anything reads its result:
//   1. stack [a_{t-1}; y*_{t-1}; 1], [a_t; y*_t; 1], ahat_t; the J~ residual (dni_b)
//   2. the J~ step (one thread per entry); u = A in_prev and v = sigma_L(A_frozen in_now)
//   3. back = Jx^T v (the exact J_t^T is itself two phases)
//   4. target = q_{t-1} + back
//   5. the A step (one thread per entry, summing over streams, so no reduction), with the
//      A_frozen refresh of the same entry and thread 0 writing the counter
//   6. U_t = A in_now (or the supplied credit), the record, q_prev <- q_t, label_prev <- y*_t
//   7. G per entry of W (and its eligibility traces), applied in place: W -= lr G, rec_grad += G.
// Sums run in the CPU's order (streams ascending, inner index ascending) so float64 results
// agree to rounding (nvcc may contract to FMA, the CPU build does not).
// The last phase touches only W = [W_hh | W_ih | b], E and rec_grad, none of which the readout
// SGD phase that follows without a barrier reads or writes (U_t and q_t are already computed),
// so step ends without a __syncthreads().
template <typename T>
struct DniOnline {
  T *A, *A_frozen, *J, *q_prev, *label_prev, *count, *elig;  // the state, updated in place
  const T* credit;  // (steps, B, n) replacing U_t in G, or null
  T* record;        // (steps, B, 4, n): U_t, U*_{t-1}, U_{t-1} (before the A step), V_t = h_t; or null
  T lr_sg, lr_j, alpha_e, sg_l2;
  int64_t fix_interval;
  bool approximate_jacobian, tanh_target, use_eligibility;
  bool late_jacobian;  // the 2019 order: J~ learns in phase 5, after the bootstrap of phase 3 read it
  // Workspace (global, allocated by the glue): in_prev, in_now (B, K); u, v, back, target,
  // scratch (the J~ residual, then J_t^T's workspace), s = U_t (B, n); ahat (B, m).
  T *in_prev, *in_now, *u, *v, *back, *target, *scratch, *s, *ahat;
  T* rec_grad;  // (n, m) or null

  // out_b = [a_b; y_b; 1], K = n + O + 1.
  static __device__ void stack(const T* a, const T* y, int64_t B, int64_t n, int64_t O, T* out) {
    const int64_t K = n + O + 1;
    TLR_BLOCK_LOOP(r, B * K) {
      const int64_t b = r / K, j = r - b * K;
      out[r] = j < n ? a[b * n + j] : (j < n + O ? y[b * O + (j - n)] : T(1));
    }
  }

  // M [in_b] row i, for the (n, K) matrix M.
  static __device__ T readout_row(const T* M, const T* in, int64_t K, int64_t i) {
    const T* w = M + i * K;
    T acc = 0;
    for (int64_t j = 0; j < K; ++j) acc += w[j] * in[j];
    return acc;
  }

  // J~ <- J~ - lr_j mean_b res_b a_{t-1,b}^T from the residual res = J~ a_{t-1} - a_t in scratch, one
  // thread per entry.
  __device__ void learn_jacobian(const OnlineActivity<T>& act, int64_t B, int64_t n, T w) const {
    TLR_BLOCK_LOOP(idx, n * n) {
      const int64_t i = idx / n, j = idx - i * n;
      T g = 0;
      for (int64_t b = 0; b < B; ++b) g += w * scratch[b * n + i] * act.prev[b * n + j];
      J[idx] -= lr_j * g;
    }
  }

  __device__ void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t B = net.B, n = net.n, I = net.I, O = net.O, m = n + I + 1, K = n + O + 1, Bn = B * n;
    const T w = T(1) / T(B);
    // The counter is read by every thread here and written by thread 0 in phase 5, several
    // barriers later, so every read precedes the write.
    const T count0 = count[0];
    const bool refresh = static_cast<int64_t>(count0) >= fix_interval - 1;

    // Phase 1.
    stack(act.prev, label_prev, B, n, O, in_prev);
    stack(act.state, act.label, B, n, O, in_now);
    presynaptic(act.prev, x, B, n, I, ahat);
    if (approximate_jacobian) {  // residual J~ a_{t-1} - a_t, with the J~ of the previous step
      TLR_BLOCK_LOOP(r, Bn) {
        const int64_t b = r / n, i = r - b * n;
        const T* ap = act.prev + b * n;
        const T* row = J + i * n;
        T res = -act.state[r];
        for (int64_t j = 0; j < n; ++j) res += row[j] * ap[j];
        scratch[r] = res;
      }
    }
    __syncthreads();

    // Phase 2. J~ <- J~ - lr_j mean_b res_b a_{t-1,b}^T (W_a regresses a_t on a_{t-1}).
    if (approximate_jacobian && !late_jacobian) learn_jacobian(act, B, n, w);
    // U_{t-1} as predicted now, and the bootstrap from the frozen copy.
    TLR_BLOCK_LOOP(r, Bn) {
      const int64_t b = r / n, i = r - b * n;
      u[r] = readout_row(A, in_prev + b * K, K, i);
      const T boot = readout_row(A_frozen, in_now + b * K, K, i);
      v[r] = tanh_target ? tanh(boot) : boot;
    }
    __syncthreads();

    // Phase 3. back_b = Jx^T v_b.
    if (approximate_jacobian) {
      TLR_BLOCK_LOOP(r, Bn) {
        const int64_t b = r / n, j = r - b * n;
        const T* vb = v + b * n;
        T acc = 0;
        for (int64_t k = 0; k < n; ++k) acc += vb[k] * J[k * n + j];
        back[r] = acc;
      }
    } else {
      jacobian_transpose(net.weight_hh, B, n, net.alpha, act.dphi, v, back, scratch);
    }
    __syncthreads();

    // Phase 4. U*_{t-1}.
    TLR_BLOCK_LOOP(r, Bn) target[r] = q_prev[r] + back[r];
    __syncthreads();

    // Phase 5. Apical delta rule, mean over streams, plus L2; the refresh copies the updated entry.
    TLR_BLOCK_LOOP(p, n * K) {
      const int64_t i = p / K, j = p - i * K;
      T g = sg_l2 * A[p];
      for (int64_t b = 0; b < B; ++b) g += w * (u[b * n + i] - target[b * n + i]) * in_prev[b * K + j];
      const T a_new = A[p] - lr_sg * g;
      A[p] = a_new;
      if (refresh) A_frozen[p] = a_new;
    }
    if (threadIdx.x == 0) count[0] = refresh ? T(0) : count0 + T(1);
    // The 2019 order: J~ learns now, after phase 3 read it (the residual of phase 1 is still in scratch:
    // only the exact-J path of phase 3 writes scratch after phase 1).
    if (approximate_jacobian && late_jacobian) learn_jacobian(act, B, n, w);
    __syncthreads();

    // Phase 6. U_t with the updated apical weights (or the supplied credit). q_prev and
    // label_prev were last read in phases 4 and 1, so they can be overwritten here.
    TLR_BLOCK_LOOP(r, Bn) {
      const int64_t b = r / n, i = r - b * n;
      const T st = credit != nullptr ? credit[act.t * Bn + r] : readout_row(A, in_now + b * K, K, i);
      s[r] = st;
      if (record != nullptr) {  // the weights are still those of this step's forward pass
        T* rec = record + act.t * B * 4 * n + b * 4 * n;
        rec[i] = st;
        rec[n + i] = target[r];
        rec[2 * n + i] = u[r];
        // V_t = W_hh a_{t-1} + W_ih x_t + b: the basal potential h_t.
        const T* wh = net.weight_hh + i * n;
        const T* wi = net.weight_ih + i * I;
        const T* ap = act.prev + b * n;
        const T* xb = x + b * I;
        T h = net.bias[i];
        for (int64_t j = 0; j < n; ++j) h += wh[j] * ap[j];
        for (int64_t j = 0; j < I; ++j) h += wi[j] * xb[j];
        rec[3 * n + i] = h;
      }
      q_prev[r] = act.q[r];
    }
    TLR_BLOCK_LOOP(r, B * O) label_prev[r] = act.label[r];
    __syncthreads();

    // Phase 7. One thread per entry (i, j) of W: its G (and the B eligibility traces of that
    // entry), then the update, so W needs no reduction and nothing else reads W this phase.
    const T ae = alpha_e, keep = T(1) - alpha_e, credit_scale = w * net.alpha;
    TLR_BLOCK_LOOP(idx, n * m) {
      const int64_t i = idx / m, j = idx - i * m;
      T g = 0;
      if (use_eligibility) {
        for (int64_t b = 0; b < B; ++b) {
          const int64_t r = b * n + i;
          T& e = elig[r * m + j];
          e = keep * e + ae * act.dphi[r] * ahat[b * m + j];
          g += w * s[r] * e;
        }
      } else {
        for (int64_t b = 0; b < B; ++b) {
          const int64_t r = b * n + i;
          g += credit_scale * act.dphi[r] * s[r] * ahat[b * m + j];
        }
      }
      T* wt = j < n ? net.weight_hh + i * n + j : (j < n + I ? net.weight_ih + i * I + (j - n) : net.bias + i);
      *wt -= net.lr * g;
      if (rec_grad != nullptr) rec_grad[idx] += g;
    }
  }
};

}  // namespace kernels
}  // namespace torch_local_rnn
