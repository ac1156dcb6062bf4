// One step of the stochastic factored approximations of RTRL's influence M_t (UORO, KF-RTRL, R-KF-RTRL;
// docs/algorithms.md §3.3-3.5), written once for both backends. Every rule keeps M ~ A (x) B and per step
//   1. propagates one factor through J_t (Rule::propagate; ahat_t = [a_{t-1}; x_t; 1] alongside),
//   2. takes four Frobenius norms (Rule::norm_operands) by Exec::sums, a fixed order on each backend,
//   3. turns them into rho0, rho1 by balance() (rules/factored/factored_rho.h) and the update's
//      coefficients (Rule::coefficients),
//   4. updates A and B (Rule::update),
//   5. contracts the updated factors with the credit (Rule::contract: B^T q, or q . A),
// after which G_b[i, j] = Rule::gradient_term. The rule's pieces are in rules/factored/<rule>_step.h.
// Both forms run it: online (FactoredOnline: the B streams of the online loop, one G applied per step)
// and the sequence form (run_factored_sequence: one stream with frozen weights, factors from zero; the
// CPU runs the streams one after another, the GPU one block per stream).
#pragma once

#include <cmath>
#include <cstdint>

#include "../../common/credit.h"
#include "../../common/stream_products.h"
#include "factored_rho.h"

namespace torch_local_rnn {

// What a step reads besides the factors.
template <typename T>
struct FactoredCtx {
  const T *w_hh, *w_ih, *bias;  // bias: null in the sequence form
  T alpha, alpha_m;             // alpha_m: the factor of Mbar (immediate_alpha)
  Nonlinearity f;               // read by UORO's forward-difference variant only
  int64_t n, I, m;              // m = n + I + 1
  int64_t a_size, b_cols;       // A (a_size), B (n, b_cols) per stream (rules/factored/factored_layout.h)
  double rho0, rho1, epsilon;   // FactoredOptions: fixed rho (> 0) and UORO's epsilon
};

// The coefficients of one stream's update X <- x_keep X_f + x_add (new term), set by rho0, rho1.
template <typename T>
struct FactorCoefficients {
  T a_keep, a_add, b_keep, b_add;
};

// UORO and R-KF-RTRL: A <- rho0 A_f + rho1 nu, B <- B_f / rho0 + P / rho1, a dropped term exactly 0.
template <typename T>
TLR_STEP FactorCoefficients<T> balanced_coefficients(Rho<T> rho0, Rho<T> rho1) {
  return {rho0.used ? rho0.value : T(0), rho1.used ? rho1.value : T(0), rho0.used ? T(1) / rho0.value : T(0),
          rho1.used ? T(1) / rho1.value : T(0)};
}

// B streams' factors and workspace, each array stream-major.
template <typename T>
struct FactoredStreams {
  T* A;          // (B, a_size)
  T* Bk;         // (B, n, b_cols)
  T* jx;         // (B, n, jcols): J_t times the propagated factor (A_f or B_f)
  T* p;          // (B, n): nu (.) alpha_m phi'(h_t)
  T* r;          // (B, m): the contraction; UORO's shifted state before it
  T* ahat;       // (B, m)
  T* norms;      // (4, B): squared norms, operand-major (one Exec::sums per operand)
  T* coef;       // (B, 4): FactorCoefficients
  const T* nu;   // this step's noise rows, stream b at nu + b * width
  T* cols;       // (n, B): a factor's streams as columns, the GEMM path's operand (common/stream_products.h)
  T* prod;       // (n, B): its product, W_hh A_b for every stream
  int64_t B, width;

  template <typename Index>  // the caller's (common/online_step.h's IndexOf)
  TLR_STEP FactorCoefficients<T> coefficients(Index b) const {
    const T* c = coef + 4 * b;
    return {c[0], c[1], c[2], c[3]};
  }
};

// Values of the per-stream workspace: the glue allocates B times this.
TLR_STEP int64_t factored_work_per_stream(int64_t n, int64_t m, int64_t jcols) { return n * jcols + 3 * n + 2 * m + 8; }

// The streams' view over their factors and a workspace of B * factored_work_per_stream values.
template <typename T>
TLR_STEP FactoredStreams<T> carve_factored(T* A, T* Bk, T* work, int64_t B, int64_t n, int64_t m, int64_t jcols,
                                           int64_t width) {
  FactoredStreams<T> s;
  s.A = A;
  s.Bk = Bk;
  s.jx = work;
  s.p = s.jx + B * n * jcols;
  s.r = s.p + B * n;
  s.ahat = s.r + B * m;
  s.norms = s.ahat + B * m;
  s.coef = s.norms + 4 * B;
  s.cols = s.coef + 4 * B;
  s.prod = s.cols + B * n;
  s.nu = nullptr;
  s.B = B;
  s.width = width;
  return s;
}

// Stream b's view (B = 1) over `factors` (per stream A (a_size) then B (n, b_cols)) and `work` (per stream
// factored_work_per_stream values): the sequence form's buffers.
template <typename T>
TLR_STEP FactoredStreams<T> factored_stream(const FactoredCtx<T>& c, T* factors, T* work, int64_t b, int64_t jcols,
                                            int64_t width) {
  T* A = factors + b * (c.a_size + c.n * c.b_cols);
  return carve_factored(A, A + c.a_size, work + b * factored_work_per_stream(c.n, c.m, jcols), 1, c.n, c.m, jcols,
                        width);
}

// One operand of a norm: stream b's values at v + b * count.
template <typename T>
struct NormOperand {
  const T* v;
  int64_t count;
};

// ---- Pieces of the rules' steps, each used by two of them ---------------------------------------

// p_b = nu_b (.) alpha_m phi'(h_t,b): the row scaling of P = diag(nu) Mbar_t = p ahat^T (UORO,
// R-KF-RTRL). One phase.
template <typename Exec, typename T>
TLR_STEP void noise_row_scale(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* dphi) {
  using Index = IndexOf<Exec>;
  const Index n = Index(c.n), width = Index(s.width);
  Exec::loop2(s.B, n, 1, [=](Index b, Index i) {
    s.p[b * n + i] = s.nu[b * width + i] * c.alpha_m * dphi[b * n + i];
  });
}

// UORO, R-KF-RTRL: rho0 from the first two norms, rho1 = balance(|p| |ahat|, sqrt(n)) (|P|_F = |p| |ahat|).
template <typename T>
TLR_STEP FactorCoefficients<T> noise_vector_coefficients(const FactoredCtx<T>& c, const T (&norm)[4], double epsilon) {
  return balanced_coefficients(balance(norm[0], norm[1], c.rho0, epsilon),
                               balance(norm[2] * norm[3], std::sqrt(T(c.n)), c.rho1, epsilon));
}

// UORO, R-KF-RTRL: A <- a_keep a_from + a_add nu,  B <- b_keep b_from + (b_add p) ahat^T, from A_f or A
// and B or B_f (each entry reads only its own entry of the sources, so they may be A and B). One phase.
template <typename Exec, typename T>
TLR_STEP void noise_vector_update(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* a_from,
                                  const T* b_from) {
  using Index = IndexOf<Exec>;
  const Index n = Index(c.n), m = Index(c.m), width = Index(s.width);
  Exec::loop2(s.B, n, 1, [=](Index b, Index i) {
    const FactorCoefficients<T> k = s.coefficients(b);
    s.A[b * n + i] = k.a_keep * a_from[b * n + i] + k.a_add * s.nu[b * width + i];
  });
  Exec::loop2(s.B * n, m, 1, [=](Index r, Index j) {
    const Index b = r / n;
    const FactorCoefficients<T> k = s.coefficients(b);
    s.Bk[r * m + j] = k.b_keep * b_from[r * m + j] + (k.b_add * s.p[r]) * s.ahat[b * m + j];
  });
}

// KF-RTRL, R-KF-RTRL: the rules that carry B through J_t and contract it with the credit.
template <typename Exec, typename T>
struct PropagatedFactorB {
  // B_f = J_t B = (1 - alpha) B + alpha diag(phi'(h_t)) (W_hh B) per stream (B (n, b_cols)) into jx. Two
  // phases (common/credit.h).
  TLR_STEP static void propagate_b(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* dphi) {
    jacobian_times_matrix<Exec>(c.w_hh, s.B, c.n, c.b_cols, c.alpha, dphi, s.Bk, s.jx);
  }

  // r_b = B_b^T q_b (b_cols values at r + b * m), k in order into each entry. One phase.
  TLR_STEP static void contract(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* q) {
    using Index = IndexOf<Exec>;
    const Index n = Index(c.n), m = Index(c.m), cols = Index(c.b_cols);
    Exec::loop_owned(s.B, n, cols, 1, [=](Index b, Index k, Index j) {
      T& o = s.r[b * m + j];
      o = (k == 0 ? T(0) : o) + q[b * n + k] * s.Bk[(b * n + k) * cols + j];
    });
  }
};

// ---- The driver -----------------------------------------------------------------------------------

// Phases 1-5 for the B streams of s (s.nu set to this step's rows). prev, next, dphi, q: (B, n); x:
// (B, I). Ends with a sync, so the updated factors and r are visible to the gradient phase.
template <typename Exec, template <typename, typename> class Rule, typename T>
TLR_STEP void factored_step(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* prev, const T* x,
                            const T* next, const T* dphi, const T* q) {
  using R = Rule<Exec, T>;
  using Index = IndexOf<Exec>;
  presynaptic<Exec>(prev, x, s.B, c.n, c.I, s.ahat);
  R::propagate(c, s, prev, x, next, dphi);
  Exec::sync();
  NormOperand<T> operand[4];
  R::norm_operands(c, s, dphi, operand);
  for (int k = 0; k < 4; ++k) {
    const NormOperand<T> o = operand[k];
    const Index count = Index(o.count);
    Exec::sums(s.B, o.count, [=](Index b, Index e) {
      const T v = o.v[b * count + e];
      return v * v;
    }, s.norms + k * s.B);
  }
  Exec::sync();
  const Index B = Index(s.B), width = Index(s.width);
  Exec::loop(s.B, 4, [=](Index b) {
    const T norm[4] = {std::sqrt(s.norms[b]), std::sqrt(s.norms[B + b]), std::sqrt(s.norms[2 * B + b]),
                       std::sqrt(s.norms[3 * B + b])};
    const FactorCoefficients<T> k = R::coefficients(c, norm, s.nu + b * width);
    T* out = s.coef + 4 * b;
    out[0] = k.a_keep, out[1] = k.a_add, out[2] = k.b_keep, out[3] = k.b_add;
  });
  Exec::sync();
  R::update(c, s, dphi);
  Exec::sync();
  R::contract(c, s, q);
  Exec::sync();
}

// G += sum_b scale G_b, b in order, each entry owned by one worker. One phase.
template <typename Exec, template <typename, typename> class Rule, typename T>
TLR_STEP void add_factored_gradient(const FactoredCtx<T>& c, const FactoredStreams<T>& s, T* G, T scale) {
  using Index = IndexOf<Exec>;
  const Index m = Index(c.m);
  Exec::loop_owned(c.n, s.B, m, 1, [=](Index i, Index b, Index j) {
    G[i * m + j] += Rule<Exec, T>::gradient_term(c, s, b, i, j, scale);
  });
}

// Online form (the rule of the online loop, common/online_step.h): G_t = (1/B) sum_b G_b, then
// W <- W - lr G_t (and rec_grad += G_t).
template <typename Exec, template <typename, typename> class Rule, typename T>
struct FactoredOnline {
  FactoredCtx<T> ctx;  // the weights are taken from `net` each step (on the GPU they may be shared-memory copies)
  FactoredStreams<T> streams;
  const T* noise;      // (steps, B, width)
  T* G;                // (n, m)
  T* rec_grad;         // (n, m) or null

  TLR_STEP void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    using Index = IndexOf<Exec>;
    FactoredCtx<T> c = ctx;
    c.w_hh = net.weight_hh;
    c.w_ih = net.weight_ih;
    c.bias = net.bias;
    FactoredStreams<T> s = streams;
    s.nu = noise + act.t * net.B * s.width;
    factored_step<Exec, Rule>(c, s, act.prev, x, act.state, act.dphi, act.q);
    const T scale = T(1) / T(net.B);
    // G summed over the streams and W updated in one pass; touches neither the readout nor the feedback
    apply_summed_gradient<Exec>(net, net.B, 1, [=](Index i, Index b, Index j) {
      return Rule<Exec, T>::gradient_term(c, s, b, i, j, scale);
    }, G, rec_grad);
  }
};

// What the sequence form reads, all streams.
template <typename T>
struct FactoredSequence {
  const T *x, *h0, *output, *dphi, *grad_output;  // (T, B, I), (B, n), (T, B, n) x 3
  const T* noise;                                 // (T, B, width)
  int64_t steps, B;
};

// Sequence form for stream b with frozen weights: s views one stream's factors (B = 1); they start at
// 0 (M_0 = 0 exactly: h0 does not depend on W), then per step the factored step with the noise row
// nu_{t,b} and G += the estimate contracted with g_t = dL/da_t (which plays q_t's part).
template <typename Exec, template <typename, typename> class Rule, typename T>
TLR_STEP void run_factored_sequence(const FactoredCtx<T>& c, FactoredStreams<T> s, const FactoredSequence<T>& seq,
                                    int64_t b, T* G) {
  const int64_t n = c.n, I = c.I;
  fill_values<Exec>(s.A, c.a_size, T(0));
  fill_values<Exec>(s.Bk, n * c.b_cols, T(0));
  Exec::sync();
  for (int64_t t = 0; t < seq.steps; ++t) {
    const int64_t r = t * seq.B + b;
    const T* prev = t == 0 ? seq.h0 + b * n : seq.output + (r - seq.B) * n;
    s.nu = seq.noise + r * s.width;
    factored_step<Exec, Rule>(c, s, prev, seq.x + r * I, seq.output + r * n, seq.dphi + r * n,
                              seq.grad_output + r * n);
    add_factored_gradient<Exec, Rule>(c, s, G, T(1));
    Exec::sync();
  }
}

}  // namespace torch_local_rnn
