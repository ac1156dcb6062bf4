// KeRNL (Roth, Kanitscheider & Fiete 2019; docs/algorithms.md §3.7, v2020 semantics): M[k, i, j] ~ A_ki B_ij
// with learned per-unit rates alpha~ (kernel k = max(0, 1 - alpha~)) and a learned mixing A, both
// trained by regressing a perturbed copy's deviation on the filtered perturbation. Per step t:
//   a~ <- (1 - alpha)(a~ + zeta) + alpha phi(W_hh (a~ + zeta) + W_ih x_t + b)   (previous zeta injected)
//   zeta <- sigma N(0, I);  Gamma <- k Gamma - Omega;  Omega <- k Omega + zeta
//   B <- diag(k) B + alpha phi'(h_t) ahat_t^T
//   eps = A Omega - (a~ - a_t);  A -= lr eps Omega^T;  alpha~ -= lr (A^T eps) (.) Gamma
//   G = diag(A^T q_t) B   (with the updated A)
// O(n^2 + n m) per step. The 2019 variants (rules/kernl/kernl_variant.h) change k, the filters and the
// trace's immediate factor. The sequence form (A, alpha~ frozen, given) needs no trace: with
// c~_t = A^T g_t + k (.) c~_{t+1}, G = sum_t (alpha phi'(h_t) (.) c~_t) ahat_t^T (the GEMM form).
// The checks and the sequence form's GEMMs are shared with rules/kernl/kernl_cuda.cu (rules/kernl/kernl.h).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "kernl.h"
#include "../../cpu/credit_cpu.h"
#include "../../cpu/online_step_cpu.h"

namespace torch_local_rnn {
namespace {

template <typename scalar_t>
struct KernlRule {
  scalar_t *trace, *A, *rates, *omega, *gamma, *zeta, *perturbed, *count;
  const scalar_t* noise;  // (T, B, n), standard normal
  KernlOptions o;
  scalar_t *k, *moved, *eps, *grad_A, *grad_rates, *ahat, *G, *aq, *rec_grad;  // aq: A^T q_b (B, n)

  void step(const OnlineNet<scalar_t>& net, const scalar_t* x, const OnlineActivity<scalar_t>& act) {
    const int64_t B = net.B, n = net.n, I = net.I, m = n + I + 1;
    const scalar_t alpha = net.alpha, sigma = static_cast<scalar_t>(o.sigma);
    for (int64_t i = 0; i < n; ++i) k[i] = kernl_kernel(o.version, rates[i]);
    if (o.reset_interval > 0 && count[0] == 0) {  // T_reset: restart the perturbed copy and the filters
      std::copy(act.state, act.state + B * n, perturbed);
      std::fill(omega, omega + B * n, scalar_t(0));
      std::fill(gamma, gamma + B * n, scalar_t(0));
      std::fill(trace, trace + B * n * m, scalar_t(0));
    }
    presynaptic(act.prev, x, B, n, I, ahat);
    std::fill(grad_A, grad_A + n * n, scalar_t(0));
    std::fill(grad_rates, grad_rates + n, scalar_t(0));
    for (int64_t b = 0; b < B; ++b) {
      scalar_t *pb = perturbed + b * n, *zb = zeta + b * n, *ob = omega + b * n, *gb = gamma + b * n;
      const scalar_t* xb = x + b * I;
      for (int64_t j = 0; j < n; ++j) moved[j] = pb[j] + zb[j];
      for (int64_t i = 0; i < n; ++i) {
        const scalar_t h = preactivation(net.weight_hh, net.weight_ih, net.bias, n, I, i, moved, xb);
        pb[i] = (1 - alpha) * moved[i] + alpha * activate(net.f, h);
      }
      const scalar_t* nu = noise + (act.t * B + b) * n;
      for (int64_t i = 0; i < n; ++i) {
        zb[i] = sigma * nu[i];
        kernl_filters(o.version, k[i], zb[i], gb[i], ob[i]);
      }
      const scalar_t* ab = act.state + b * n;
      for (int64_t i = 0; i < n; ++i) {  // eps = A Omega - (a~ - a_t)
        eps[i] = (ab[i] - pb[i]) + dot(A + i * n, ob, n);
      }
      const scalar_t w = scalar_t(1) / B;
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < n; ++j) grad_A[i * n + j] += w * eps[i] * ob[j];
      }
      transpose_times(A, eps, n, n, moved);  // (A^T eps)_j Gamma_j, row by row (moved is free again)
      for (int64_t j = 0; j < n; ++j) grad_rates[j] += w * moved[j] * gb[j];
    }
    const scalar_t lr = static_cast<scalar_t>(o.lr);
    for (int64_t p = 0; p < n * n; ++p) A[p] -= lr * grad_A[p];
    for (int64_t i = 0; i < n; ++i) rates[i] -= lr * grad_rates[i];
    if (o.reset_interval > 0) count[0] = static_cast<scalar_t>((static_cast<int64_t>(count[0]) + 1) % o.reset_interval);
    // One pass over the (B, n, m) trace, parallel over rows i of W (no two tasks write the same
    // row of G): B_b <- diag(k) B_b + alpha phi'(h_t) ahat_t^T (k from the rates before this
    // step's update), then G = 1/B sum_b diag(A^T q_b) B_b with the updated A.
    for (int64_t b = 0; b < B; ++b) transpose_times(A, act.q + b * n, n, n, aq + b * n);
    at::parallel_for(0, n, work_grain(B * m), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        scalar_t* g = G + i * m;
        std::fill(g, g + m, scalar_t(0));
        for (int64_t b = 0; b < B; ++b) {
          scalar_t* tb = trace + (b * n + i) * m;
          const scalar_t* a_hat = ahat + b * m;
          const scalar_t ki = k[i], w = aq[b * n + i] / B;
          const scalar_t s = kernl_immediate(o.learned_alpha_e, alpha, ki) * act.dphi[b * n + i];
          for (int64_t j = 0; j < m; ++j) {
            tb[j] = ki * tb[j] + s * a_hat[j];
            g[j] += w * tb[j];
          }
        }
      }
    });
    apply_recurrent_update(net, G, rec_grad);
  }
};

void kernl_online_cpu(const OnlineCall& c) {
  const KernlOnlineInputs in = check_kernl_online(c);
  const KernlOptions& o = in.options;
  const at::Tensor& noise = in.noise;
  const int64_t B = c.args.B, n = c.args.n, I = c.args.I, m = n + I + 1;
  at::Tensor work = at::empty({4 * n + n * n + B * m + n * m + B * n}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    auto p = [&](size_t s) { return c.state[s].data_ptr<scalar_t>(); };
    scalar_t* w = work.data_ptr<scalar_t>();
    scalar_t *k = w, *moved = w + n, *eps = w + 2 * n, *grad_rates = w + 3 * n, *grad_A = w + 4 * n;
    scalar_t* ahat = grad_A + n * n;
    return KernlRule<scalar_t>{p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), noise.data_ptr<scalar_t>(), o,
                               k, moved, eps, grad_A, grad_rates, ahat, ahat + B * m, ahat + B * m + n * m,
                               rec_grad_ptr<scalar_t>(c)};
  });
}

BackwardResult kernl_backward_cpu(const SequenceArgs& a) {
  // The reverse filter c~_t += k (.) c~_{t+1} in place, one (b, i) row of time per task.
  return kernl_backward(a, [&](const at::Tensor& credit, const at::Tensor& k) {
    const int64_t T = credit.size(0), B = credit.size(1), n = credit.size(2);
    AT_DISPATCH_FLOATING_TYPES(credit.scalar_type(), "leaky_rnn_rule_backward", [&] {
      scalar_t* c = credit.data_ptr<scalar_t>();
      const scalar_t* kp = k.data_ptr<scalar_t>();
      at::parallel_for(0, B * n, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, T)),
                       [&](int64_t lo, int64_t hi) {
                         for (int64_t r = lo; r < hi; ++r) {
                           const scalar_t kr = kp[r % n];
                           for (int64_t t = T - 2; t >= 0; --t) c[t * B * n + r] += kr * c[(t + 1) * B * n + r];
                         }
                       });
    });
  });
}

const bool registered = CpuSequenceRules::add("kernl", &kernl_backward_cpu) &&
                        CpuOnlineRules::add("kernl", &kernl_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
