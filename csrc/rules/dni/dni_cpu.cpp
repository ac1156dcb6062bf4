// DNI and DNI(b) (Jaderberg et al. 2017; docs/algorithms.md §3.8 v2020 order, §4): the credit c_t is read
// out of the apical compartment, U_t = s_t = A [a_t; y*_t; 1], trained by bootstrapping one step late:
//   J~ <- J~ - lr_j (J~ a_{t-1} - a_t) a_{t-1}^T                       (dni_b: the learned W_a)
//   U*_{t-1} = q_{t-1} + Jx^T sigma_L(A_frozen [a_t; y*_t; 1])        (Jx = J_t or J~; sigma_L = id or tanh)
//   A <- A - lr_sg ((A [a_{t-1}; y*_{t-1}; 1] - U*_{t-1}) [a_{t-1}; y*_{t-1}; 1]^T + sg_l2 A)
//   A_frozen <- A every fix_interval steps
//   G = (U_t (.) alpha phi'(h_t)) ahat_t^T,  or with the eligibility trace (alpha_e > 0)
//   E <- (1 - alpha_e) E + alpha_e phi'(h_t) ahat_t^T,  G = diag(U_t) E.
// No sequence form: U_t reads the label y*_t. O(n (n + O)) per step. `record` receives per step the
// apical potential U_t, the target U*_{t-1}, the prediction U_{t-1} and the basal potential V_t = h_t.
#include <ATen/ATen.h>

#include <cmath>

#include "dni_layout.h"
#include "../../cpu/credit_cpu.h"
#include "../../cpu/online_step_cpu.h"

namespace torch_local_rnn {
namespace {

template <typename scalar_t>
struct DniRule {
  scalar_t *A, *A_frozen, *J, *q_prev, *label_prev, *count, *elig;
  const scalar_t* credit;  // (T, B, n) replacing U_t in G, or null
  scalar_t* record;        // (T, B, 4, n): U_t, U*_{t-1}, U_{t-1} (before the A update), V_t = h_t, or null
  DniOptions o;
  scalar_t *in_prev, *in_now, *u, *v, *back, *target, *scratch, *grad_A, *grad_J, *ahat, *G, *rec_grad;

  // out_b = M [a_b; y_b; 1] for the (n, K) matrix M, K = n + O + 1.
  static void readout(const scalar_t* M, const scalar_t* in, int64_t B, int64_t n, int64_t K, scalar_t* out) {
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t i = 0; i < n; ++i) out[b * n + i] = dot(M + i * K, in + b * K, K);
    }
  }

  // V = W_hh a_{t-1} + W_ih x_t + b: the basal potential h_t (recorded only; the forward keeps phi'(h_t)).
  static void basal(const OnlineNet<scalar_t>& net, const scalar_t* prev, const scalar_t* x, scalar_t* out) {
    const int64_t n = net.n, I = net.I;
    for (int64_t i = 0; i < n; ++i) out[i] = preactivation(net.weight_hh, net.weight_ih, net.bias, n, I, i, prev, x);
  }

  static void stack(const scalar_t* a, const scalar_t* y, int64_t B, int64_t n, int64_t O, scalar_t* out) {
    const int64_t K = n + O + 1;
    for (int64_t b = 0; b < B; ++b) {
      std::copy(a + b * n, a + (b + 1) * n, out + b * K);
      std::copy(y + b * O, y + (b + 1) * O, out + b * K + n);
      out[b * K + n + O] = 1;
    }
  }

  // W_a <- W_a - lr_j mean_b (W_a a_{t-1} - a_t) a_{t-1}^T: regress a_t on a_{t-1}.
  void learn_jacobian(const OnlineActivity<scalar_t>& act, int64_t B, int64_t n) {
    const scalar_t w = scalar_t(1) / B;
    std::fill(grad_J, grad_J + n * n, scalar_t(0));
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t *ap = act.prev + b * n, *an = act.state + b * n;
      for (int64_t i = 0; i < n; ++i) {
        const scalar_t r = dot(J + i * n, ap, n) - an[i];
        for (int64_t j = 0; j < n; ++j) grad_J[i * n + j] += w * r * ap[j];
      }
    }
    const scalar_t lr = static_cast<scalar_t>(o.lr_j);
    for (int64_t p = 0; p < n * n; ++p) J[p] -= lr * grad_J[p];
  }

  void step(const OnlineNet<scalar_t>& net, const scalar_t* x, const OnlineActivity<scalar_t>& act) {
    const int64_t B = net.B, n = net.n, I = net.I, O = net.O, m = n + I + 1, K = n + O + 1;
    const scalar_t w = scalar_t(1) / B;
    if (o.approximate_jacobian && !o.late_jacobian) learn_jacobian(act, B, n);
    stack(act.prev, label_prev, B, n, O, in_prev);
    stack(act.state, act.label, B, n, O, in_now);
    readout(A, in_prev, B, n, K, u);             // U_{t-1} as predicted now
    readout(A_frozen, in_now, B, n, K, v);       // the bootstrap from the frozen copy
    if (o.tanh_target) {
      for (int64_t r = 0; r < B * n; ++r) v[r] = std::tanh(v[r]);
    }
    if (o.approximate_jacobian) {                // back_b = J~^T v_b
      for (int64_t b = 0; b < B; ++b) transpose_times(J, v + b * n, n, n, back + b * n);
    } else {
      jacobian_transpose(net.weight_hh, B, n, net.alpha, act.dphi, v, back, scratch);
    }
    for (int64_t r = 0; r < B * n; ++r) target[r] = q_prev[r] + back[r];
    // Apical delta rule, mean over streams.
    for (int64_t p = 0; p < n * K; ++p) grad_A[p] = static_cast<scalar_t>(o.sg_l2) * A[p];
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t i = 0; i < n; ++i) {
        const scalar_t d = w * (u[b * n + i] - target[b * n + i]);
        for (int64_t j = 0; j < K; ++j) grad_A[i * K + j] += d * in_prev[b * K + j];
      }
    }
    const scalar_t lr_sg = static_cast<scalar_t>(o.lr_sg);
    for (int64_t p = 0; p < n * K; ++p) A[p] -= lr_sg * grad_A[p];
    if (o.approximate_jacobian && o.late_jacobian) learn_jacobian(act, B, n);  // the 2019 order
    if (static_cast<int64_t>(count[0]) >= o.fix_interval - 1) {
      std::copy(A, A + n * K, A_frozen);
      count[0] = 0;
    } else {
      count[0] += 1;
    }
    // U_t with the updated apical weights (or the supplied credit).
    scalar_t* s = scratch;
    if (credit != nullptr) {
      std::copy(credit + act.t * B * n, credit + (act.t + 1) * B * n, s);
    } else {
      readout(A, in_now, B, n, K, s);
    }
    presynaptic(act.prev, x, B, n, I, ahat);
    std::fill(G, G + n * m, scalar_t(0));
    if (o.alpha_e > 0) {
      const scalar_t ae = static_cast<scalar_t>(o.alpha_e);
      for (int64_t b = 0; b < B; ++b) {
        scalar_t* e = elig + b * n * m;
        for (int64_t i = 0; i < n; ++i) {
          const scalar_t di = ae * act.dphi[b * n + i], si = w * s[b * n + i];
          for (int64_t j = 0; j < m; ++j) {
            e[i * m + j] = (1 - ae) * e[i * m + j] + di * ahat[b * m + j];
            G[i * m + j] += si * e[i * m + j];
          }
        }
      }
    } else {
      add_credit_outer(G, s, act.dphi, ahat, B, n, m, net.alpha, w);
    }
    if (record != nullptr) {  // the weights are still those of this step's forward pass
      scalar_t* rec = record + act.t * B * 4 * n;
      for (int64_t b = 0; b < B; ++b) {
        std::copy(s + b * n, s + (b + 1) * n, rec + (b * 4) * n);
        std::copy(target + b * n, target + (b + 1) * n, rec + (b * 4 + 1) * n);
        std::copy(u + b * n, u + (b + 1) * n, rec + (b * 4 + 2) * n);
        basal(net, act.prev + b * n, x + b * I, rec + (b * 4 + 3) * n);
      }
    }
    std::copy(act.q, act.q + B * n, q_prev);
    std::copy(act.label, act.label + B * O, label_prev);
    apply_recurrent_update(net, G, rec_grad);
  }
};

void dni_online_cpu(const OnlineCall& c, const char* rule) {
  const DniCall d = check_dni_call(c, rule);
  const DniOptions& o = d.options;
  const at::Tensor& credit = d.credit;
  const int64_t B = c.args.B, n = c.args.n, I = c.args.I, O = c.args.O, m = n + I + 1, K = n + O + 1;
  at::Tensor work = at::empty({2 * B * K + 5 * B * n + n * K + n * n + B * m + n * m}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    auto p = [&](size_t s) { return c.state[s].data_ptr<scalar_t>(); };
    scalar_t* w = work.data_ptr<scalar_t>();
    scalar_t *in_prev = w, *in_now = w + B * K, *u = w + 2 * B * K, *v = u + B * n, *back = v + B * n,
             *target = back + B * n, *scratch = target + B * n;  // scratch: J^T's workspace, then U_t
    scalar_t *grad_A = scratch + B * n, *grad_J = grad_A + n * K, *ahat = grad_J + n * n, *G = ahat + B * m;
    return DniRule<scalar_t>{p(0), p(1), p(2), p(3), p(4), p(5), p(6),
                             credit.defined() ? credit.data_ptr<scalar_t>() : nullptr,
                             c.record ? c.record->data_ptr<scalar_t>() : nullptr, o,
                             in_prev, in_now, u, v, back, target, scratch, grad_A, grad_J, ahat, G,
                             rec_grad_ptr<scalar_t>(c)};
  });
}

void dni_cpu(const OnlineCall& c) { dni_online_cpu(c, "dni"); }
void dni_b_cpu(const OnlineCall& c) { dni_online_cpu(c, "dni_b"); }

const bool registered = CpuOnlineRules::add("dni", &dni_cpu) && CpuOnlineRules::add("dni_b", &dni_b_cpu);

}  // namespace
}  // namespace torch_local_rnn
