// Online DNI and DNI(b)'s step (Jaderberg et al. 2017; docs/algorithms.md §3.8 v2020 order, §4), written once
// for both backends. The credit is read out of the apical compartment, U_t = s_t = A [a_t; y*_t; 1], and A is
// trained by bootstrapping one step late:
//   J~ <- J~ - lr_j mean_b (J~ a_{t-1} - a_t) a_{t-1}^T                (dni_b: the learned W_a)
//   U*_{t-1} = q_{t-1} + Jx^T sigma_L(A_frozen [a_t; y*_t; 1])        (Jx = J_t or J~; sigma_L = id or tanh)
//   A <- A - lr_sg (mean_b (A [a_{t-1}; y*_{t-1}; 1] - U*_{t-1}) [a_{t-1}; y*_{t-1}; 1]^T + sg_l2 A)
//   A_frozen <- A every fix_interval steps
//   G = mean_b (U_t (.) alpha phi'(h_t)) ahat_t^T,  or with the eligibility trace (alpha_e > 0)
//   E <- (1 - alpha_e) E + alpha_e phi'(h_t) ahat_t^T,  G = mean_b diag(U_t) E;   W <- W - lr G.
// late_jacobian (the 2019 order): J~ learns after the apical step, so the bootstrap uses the J~ of step t - 1.
// No sequence form: U_t reads the label y*_t. O(n (n + O)) per stream and step. `record` receives per step the
// apical potential U_t, the target U*_{t-1}, the prediction U_{t-1} and the basal potential V_t = h_t.
// Each mean over streams is run by the worker that owns the summed entry, b ascending, into a buffer set in
// the first phase, so CPU and GPU add in the same order. With B >= kStreamGemmMin streams the step runs
// step_gemm instead: the same math with every product with A, A_frozen, J~, W_hh and the stream-averaged
// outer products (grad_J~, grad_A, G without the trace) as GEMMs over the streams (common/stream_products.h);
// at n = 256, B = 32 those B matrix-vector products were nearly all of the step. The sums over streams are
// then the GEMM's (the last bits change).
#pragma once

#include "../../common/credit.h"
#include "../../common/stream_products.h"

namespace torch_local_rnn {

template <typename Exec, typename T>
struct DniStep {
  T *A, *A_frozen, *J, *q_prev, *label_prev, *count, *elig;  // the state, updated in place
  const T* credit;  // (steps, B, n) replacing U_t in G, or null
  T* record;        // (steps, B, 4, n): U_t, U*_{t-1}, U_{t-1} (before the A step), V_t = h_t; or null
  T lr_sg, lr_j, alpha_e, sg_l2;
  int64_t fix_interval;
  bool approximate_jacobian, tanh_target, use_eligibility, late_jacobian;
  // Scratch, allocated by the glue (rules/dni/dni_layout.h, make_dni_step).
  T *in_prev, *in_now;  // (B, K), K = n + O + 1: [a_{t-1}; y*_{t-1}; 1], [a_t; y*_t; 1]
  T *u, *v, *back, *target;  // (B, n): U_{t-1} as predicted now, sigma_L(A_frozen in_now), Jx^T v, U*_{t-1}
  T* delta;    // (B, n): w (U_{t-1} - U*_{t-1}), w = 1/B: A's gradient factor
  T* scratch;  // (B, n): w (J~ a_{t-1} - a_t) (approximate_jacobian), else J_t^T's workspace
  T* row;      // (B, n): G's factor of row i: w U_t, or w alpha phi'(h_t) U_t without the trace
  T* immediate;  // (B, n): alpha_e phi'(h_t), the trace's immediate factor
  T* ahat;     // (B, m)
  T* grad_A;   // (n, K)
  T* grad_J;   // (n, n)
  T* G;        // (n, m)
  T* rec_grad;  // (n, m) or null: accumulates G
  // Scratch of the GEMM path, the streams as columns.
  T *in_prev_t, *in_now_t;  // (K, B): in_prev^T, in_now^T (their first n rows a_{t-1}^T, a_t^T)
  T *prod_a, *prod_b, *prod_c;  // (n, B): products M [v_1 .. v_B]

  // out_b = [a_b; y_b; 1]. One phase.
  static TLR_STEP void stack(const T* a, const T* y, IndexOf<Exec> B, IndexOf<Exec> n, IndexOf<Exec> O, T* out) {
    using Index = IndexOf<Exec>;
    const Index K = n + O + 1;
    Exec::loop2(B, K, 1, [&](Index b, Index j) {
      out[b * K + j] = j < n ? a[b * n + j] : (j < n + O ? y[b * O + (j - n)] : T(1));
    });
  }

  // out_t (K, B) = [a_b; y_b; 1] as columns. One phase.
  static TLR_STEP void stack_columns(const T* a, const T* y, IndexOf<Exec> B, IndexOf<Exec> n, IndexOf<Exec> O,
                                     T* out_t) {
    using Index = IndexOf<Exec>;
    const Index K = n + O + 1;
    Exec::loop2(K, B, 1, [=](Index j, Index b) {
      out_t[j * B + b] = j < n ? a[b * n + j] : (j < n + O ? y[b * O + (j - n)] : T(1));
    });
  }

  // Phase 6's work on unit (b, i) in both step forms, given U_t = st: G's factors (with the trace row = w U_t and
  // the trace's immediate factor alpha_e phi'(h_t), stream-major; without it row = w alpha phi'(h_t) U_t at
  // row_index: stream-major in step, (n, B) columns for step_gemm's GEMM), the record, q_prev <- q_t.
  TLR_STEP void unit_factors(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act, IndexOf<Exec> b,
                             IndexOf<Exec> i, T st, T w, T direct, IndexOf<Exec> row_index) const {
    using Index = IndexOf<Exec>;
    const Index r = b * Index(net.n) + i;
    if (use_eligibility) {
      row[r] = w * st;
      immediate[r] = alpha_e * act.dphi[r];
    } else {
      row[row_index] = (direct * act.dphi[r]) * st;
    }
    if (record != nullptr) record_entry(net, x, act, b, i, st);
    q_prev[r] = act.q[r];
  }

  // Phase 7 with the synaptic eligibility trace (alpha_e > 0, docs/algorithms.md §3.8): E_b <- (1 - alpha_e) E_b +
  // alpha_e phi'(h_t) ahat_t^T (immediate = alpha_e phi'(h_t)) and W <- W - lr sum_b diag(row_b) E_b in one pass
  // (apply_summed_gradient), row and immediate stream-major (B, n) in both step forms. One phase.
  TLR_STEP void apply_eligibility_gradient(const OnlineNet<T>& net) const {
    using Index = IndexOf<Exec>;
    const Index n = Index(net.n), m = n + Index(net.I) + 1;
    const T *const rw = row, *const im = immediate, *const ah = ahat;
    const T keep = T(1) - alpha_e;
    T* const el = elig;
    apply_summed_gradient<Exec>(net, net.B, 2, [=](Index i, Index b, Index j) {
      const Index r = b * n + i;
      T& e = el[r * m + j];
      e = keep * e + im[r] * ah[b * m + j];
      return rw[r] * e;
    }, G, rec_grad);
  }

  // The record of stream b, unit i (U_t, U*_{t-1}, U_{t-1}, V_t = h_t).
  TLR_STEP void record_entry(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act, IndexOf<Exec> b,
                             IndexOf<Exec> i, T st) const {
    using Index = IndexOf<Exec>;
    const Index n = Index(net.n), I = Index(net.I), r = b * n + i;
    T* rec = record + (act.t * net.B + b) * 4 * n;
    rec[i] = st;
    rec[n + i] = target[r];
    rec[2 * n + i] = u[r];
    rec[3 * n + i] = preactivation<Exec::kRotatedRows>(net.weight_hh, net.weight_ih, net.bias, n, I, i,
                                                       act.prev + b * n, x + b * I);
  }

  TLR_STEP void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    using Index = IndexOf<Exec>;
    const Index B = Index(net.B), n = Index(net.n), I = Index(net.I), O = Index(net.O), m = n + I + 1, K = n + O + 1,
                Bn = B * n;
    if (streams_as_gemm(B)) {
      step_gemm(net, x, act);
      return;
    }
    const T w = T(1) / T(B);
    const bool refresh = static_cast<int64_t>(count[0]) >= fix_interval - 1;  // read before phase 5 writes it
    const bool learn_now = approximate_jacobian && !late_jacobian;

    // 1. The stacked inputs and ahat_t; the J~ residual J~ a_{t-1} - a_t with the J~ of the previous step;
    //    back's sum set. The sums' factors are premultiplied (common/credit.h: a scalar factor in the inner
    //    loop keeps GCC from vectorising it).
    stack(act.prev, label_prev, B, n, O, in_prev);
    stack(act.state, act.label, B, n, O, in_now);
    presynaptic<Exec>(act.prev, x, B, n, I, ahat);
    if (approximate_jacobian) {
      Exec::loop2(B, n, n, [&](Index b, Index i) {
        scratch[b * n + i] = w * (dot(J + i * n, act.prev + b * n, n) - act.state[b * n + i]);
      });
      fill_values<Exec>(back, Bn, T(0));
    }
    Exec::sync();

    // 2. J~'s gradient (W_a regresses a_t on a_{t-1}) and, in the v2020 order, its step in the same pass
    //    (J~ learns before the bootstrap reads it; nothing else in this phase reads J~); U_{t-1} as predicted
    //    now, and the bootstrap from the frozen copy.
    if (approximate_jacobian) {
      T* const Jm = J;
      const T step_j = lr_j;
      const bool now = learn_now;
      sum_outer_each<Exec>(grad_J, scratch, act.prev, B, n, n, [](Index) { return T(0); },
                           [=](Index p, T g) {
                             if (now) Jm[p] -= step_j * g;
                           },
                           /*keep=*/late_jacobian);  // the 2019 order steps J~ from grad_J in phase 5
    }
    Exec::loop2(B, n, 2 * K, [&](Index b, Index i) {
      u[b * n + i] = dot(A + i * K, in_prev + b * K, K);
      const T boot = dot(A_frozen + i * K, in_now + b * K, K);
      v[b * n + i] = tanh_target ? tanh(boot) : boot;
    });
    Exec::sync();

    // 3. back_b = Jx^T v_b (the exact J_t^T is two phases).
    if (approximate_jacobian) {
      add_transpose_times_each<Exec>(J, v, B, n, n, back);
    } else {
      jacobian_transpose<Exec>(net.weight_hh, B, n, net.alpha, act.dphi, v, back, scratch);
    }
    Exec::sync();

    // 4. U*_{t-1}, and the apical delta rule's factor.
    Exec::loop(Bn, 1, [&](Index r) {
      target[r] = q_prev[r] + back[r];
      delta[r] = w * (u[r] - target[r]);
    });
    Exec::sync();

    // 5. The apical delta rule's gradient, mean over streams, from its L2 term, and in the same pass the A
    //    step and the A_frozen refresh of that entry; the counter; the 2019 order's J~ step.
    {
      T *const Am = A, *const Af = A_frozen;
      const T l2 = sg_l2, step_a = lr_sg;
      const bool copy = refresh;
      sum_outer_each<Exec>(grad_A, delta, in_prev, B, n, K, [=](Index p) { return l2 * Am[p]; },
                           [=](Index p, T g) {
                             Am[p] -= step_a * g;
                             if (copy) Af[p] = Am[p];
                           },
                           /*keep=*/false);
    }
    Exec::loop(1, 1, [&](Index) { count[0] = refresh ? T(0) : count[0] + T(1); });
    if (approximate_jacobian && late_jacobian) Exec::loop(n * n, 1, [&](Index p) { J[p] -= lr_j * grad_J[p]; });
    Exec::sync();

    // 6. U_t with the updated apical weights (or the supplied credit) and G's factors; the record, with the
    //    weights still those of this step's forward; q_prev <- q_t, label_prev <- y*_t (last read in phases 4
    //    and 1).
    const T direct = w * net.alpha;
    Exec::loop2(B, n, K + n + I, [&](Index b, Index i) {
      const Index r = b * n + i;
      const T st = credit != nullptr ? credit[act.t * Bn + r] : dot(A + i * K, in_now + b * K, K);
      unit_factors(net, x, act, b, i, st, w, direct, r);
    });
    copy_values<Exec>(act.label, B * O, label_prev);
    Exec::sync();

    // 7. G (and the eligibility traces E_b <- (1 - alpha_e) E_b + alpha_e phi'(h_t) ahat_t^T), one worker per
    //    entry of G, streams in order.
    //    W <- W - lr G in the same pass (apply_summed_gradient): only W, G, the traces and rec_grad, so the
    //    readout's SGD phase may follow without a sync.
    if (use_eligibility) {
      apply_eligibility_gradient(net);
    } else {  // add_credit_outer's products, in its order
      const T *const rw = row, *const ah = ahat;
      apply_summed_gradient<Exec>(net, B, 1, [=](Index i, Index b, Index j) {
        return rw[b * n + i] * ah[b * m + j];
      }, G, rec_grad);
    }
  }

  // step's phases with the products as GEMMs over the B streams (the numbers name step's phases; the letters
  // the GEMMs and the phases that read them back). scratch, delta and row hold (n, B) columns here where
  // step keeps (B, n) rows (scratch stays (B, n) with the exact Jacobian).
  TLR_STEP void step_gemm(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    using Index = IndexOf<Exec>;
    const Index B = Index(net.B), n = Index(net.n), I = Index(net.I), O = Index(net.O), m = n + I + 1, K = n + O + 1;
    const T w = T(1) / T(B), alpha = net.alpha;
    const bool refresh = static_cast<int64_t>(count[0]) >= fix_interval - 1;  // read before phase 5b writes it
    const bool approx = approximate_jacobian, learn_now = approx && !late_jacobian, tanh_v = tanh_target;

    // 1. The stacked inputs (rows for the outer products' right operands, columns for the products) and ahat_t.
    stack(act.prev, label_prev, B, n, O, in_prev);
    stack_columns(act.prev, label_prev, B, n, O, in_prev_t);
    stack_columns(act.state, act.label, B, n, O, in_now_t);
    presynaptic<Exec>(act.prev, x, B, n, I, ahat);
    Exec::sync();

    // 1a. J~ a_{t-1} (the J~ of the previous step), A in_prev (U_{t-1} as predicted now), A_frozen in_now.
    if (approx) matrix_times_streams<Exec>(J, n, n, in_prev_t, B, prod_a);
    matrix_times_streams<Exec>(A, n, K, in_prev_t, B, prod_b);
    matrix_times_streams<Exec>(A_frozen, n, K, in_now_t, B, prod_c);
    Exec::sync();

    // 2. The J~ residual w (J~ a_{t-1} - a_t) as columns (or, exact, J_t^T's first factor alpha phi' (.) v), u, v.
    {
      const T *const pa = prod_a, *const pb = prod_b, *const pc = prod_c, *const state = act.state,
                     *const dphi = act.dphi;
      T *const uu = u, *const vv = v, *const sc = scratch;
      Exec::loop2(B, n, 1, [=](Index b, Index i) {
        const Index r = b * n + i, c = i * B + b;
        if (approx) sc[c] = w * (pa[c] - state[r]);
        uu[r] = pb[c];
        const T boot = pc[c];
        vv[r] = tanh_v ? tanh(boot) : boot;
        if (!approx) sc[r] = alpha * dphi[r] * vv[r];
      });
    }
    Exec::sync();

    // 2a. J~'s stream-averaged gradient, or (exact) W_hh^T (alpha phi' (.) v_b) into back.
    if (approx) {
      sum_outer_streams<Exec>(scratch, n, act.prev, n, B, grad_J);
    } else {
      streams_times_matrix<Exec>(scratch, B, net.weight_hh, n, n, back);
    }
    Exec::sync();

    // 2b, 3. The v2020 order's J~ step (J~ learns before the bootstrap reads it), then back_b = J~^T v_b.
    if (approx) {
      if (learn_now) {
        T* const Jm = J;
        const T *const gJ = grad_J;
        const T step_j = lr_j;
        Exec::loop(n * n, 1, [=](Index p) { Jm[p] -= step_j * gJ[p]; });
        Exec::sync();
      }
      streams_times_matrix<Exec>(v, B, J, n, n, back);
      Exec::sync();
    }

    // 4. U*_{t-1} (exact: back + (1 - alpha) v completes J_t^T v), and the apical delta rule's factor as columns.
    {
      const T *const qp = q_prev, *const bk = back, *const vv = v, *const uu = u;
      T *const tg = target, *const dl = delta;
      Exec::loop2(B, n, 1, [=](Index b, Index i) {
        const Index r = b * n + i;
        tg[r] = qp[r] + (approx ? bk[r] : (T(1) - alpha) * vv[r] + bk[r]);
        dl[i * B + b] = w * (uu[r] - tg[r]);
      });
    }
    Exec::sync();

    // 5a. The apical delta rule's gradient, mean over streams.
    sum_outer_streams<Exec>(delta, n, in_prev, K, B, grad_A);
    Exec::sync();

    // 5b. With its L2 term, the A step and the A_frozen refresh; the counter; the 2019 order's J~ step.
    {
      T *const Am = A, *const Af = A_frozen;
      const T *const gA = grad_A;
      const T l2 = sg_l2, step_a = lr_sg;
      const bool copy = refresh;
      Exec::loop(n * K, 1, [=](Index p) {
        Am[p] -= step_a * (l2 * Am[p] + gA[p]);
        if (copy) Af[p] = Am[p];
      });
    }
    Exec::loop(1, 1, [&](Index) { count[0] = refresh ? T(0) : count[0] + T(1); });
    if (approx && late_jacobian) Exec::loop(n * n, 1, [&](Index p) { J[p] -= lr_j * grad_J[p]; });
    Exec::sync();

    // 6a. U_t = A in_now with the updated A (unless the credit is supplied).
    if (credit == nullptr) {
      matrix_times_streams<Exec>(A, n, K, in_now_t, B, prod_a);
      Exec::sync();
    }

    // 6. G's factors (as columns without the trace), the record, q_prev <- q_t, label_prev <- y*_t.
    const Index Bn = B * n;
    const T direct = w * net.alpha;
    Exec::loop2(B, n, record != nullptr ? n + I : 1, [&](Index b, Index i) {
      const Index r = b * n + i;
      const T st = credit != nullptr ? credit[act.t * Bn + r] : prod_a[i * B + b];
      unit_factors(net, x, act, b, i, st, w, direct, i * B + b);
    });
    copy_values<Exec>(act.label, B * O, label_prev);
    Exec::sync();

    // 7. G and W <- W - lr G: with the trace as in step (a trace pass), without it G = sum_b row_b ahat_b^T
    //    by a GEMM, then apply_recurrent_update. Either way the last phase writes only W, G, the traces and
    //    rec_grad, so the readout's SGD phase may follow without a sync.
    if (use_eligibility) {
      apply_eligibility_gradient(net);
    } else {
      sum_outer_streams<Exec>(row, n, ahat, m, B, G);
      Exec::sync();
      apply_recurrent_update<Exec>(net, G, rec_grad);
    }
  }
};

}  // namespace torch_local_rnn
