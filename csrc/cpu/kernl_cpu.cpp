// KeRNL (Roth, Kanitscheider & Fiete 2019; algorithms.md §3.7, v2020 semantics): M[k, i, j] ~ A_ki B_ij
// with learned per-unit rates alpha~ (kernel k = max(0, 1 - alpha~)) and a learned mixing A, both
// trained by regressing a perturbed copy's deviation on the filtered perturbation. Per step t:
//   a~ <- (1 - alpha)(a~ + zeta) + alpha phi(W_hh (a~ + zeta) + W_ih x_t + b)   (previous zeta injected)
//   zeta <- sigma N(0, I);  Gamma <- k Gamma - Omega;  Omega <- k Omega + zeta
//   B <- diag(k) B + alpha phi'(h_t) ahat_t^T
//   eps = A Omega - (a~ - a_t);  A -= lr eps Omega^T;  alpha~ -= lr (A^T eps) (.) Gamma
//   G = diag(A^T q_t) B   (with the updated A)
// O(n^2 + n m) per step. The sequence form (A, alpha~ frozen, given) needs no trace: with
// c~_t = A^T g_t + k (.) c~_{t+1}, G = sum_t (alpha phi'(h_t) (.) c~_t) ahat_t^T (the GEMM form).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "../common/rule_options.h"
#include "../common/sequence_rule.h"
#include "credit_cpu.h"
#include "online_step_cpu.h"

namespace torch_local_rnn {
namespace {

constexpr const char* kStateLayout =
    "[trace (batch, hidden_size, hidden_size + input_size + 1), A (hidden_size, hidden_size), rates (hidden_size), "
    "omega (batch, hidden_size), gamma (batch, hidden_size), zeta (batch, hidden_size), perturbed (batch, "
    "hidden_size), count (1)]";

// k_i = max(0, 1 - alpha~_i).
template <typename scalar_t>
void kernel_from_rates(const scalar_t* rates, int64_t n, scalar_t* k) {
  for (int64_t i = 0; i < n; ++i) k[i] = std::max(scalar_t(0), 1 - rates[i]);
}

template <typename scalar_t>
struct KernlRule {
  scalar_t *trace, *A, *rates, *omega, *gamma, *zeta, *perturbed, *count;
  const scalar_t* noise;  // (T, B, n), standard normal
  KernlOptions o;
  scalar_t *k, *moved, *eps, *grad_A, *grad_rates, *ahat, *G, *rec_grad;

  void step(const OnlineNet<scalar_t>& net, const scalar_t* x, const OnlineActivity<scalar_t>& act) {
    const int64_t B = net.B, n = net.n, I = net.I, m = n + I + 1;
    const scalar_t alpha = net.alpha, sigma = static_cast<scalar_t>(o.sigma);
    kernel_from_rates(rates, n, k);
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
        scalar_t h = net.bias[i];
        for (int64_t j = 0; j < n; ++j) h += net.weight_hh[i * n + j] * moved[j];
        for (int64_t j = 0; j < I; ++j) h += net.weight_ih[i * I + j] * xb[j];
        pb[i] = (1 - alpha) * moved[i] + alpha * activate(net.f, h);
      }
      const scalar_t* nu = noise + (act.t * B + b) * n;
      for (int64_t i = 0; i < n; ++i) {
        zb[i] = sigma * nu[i];
        gb[i] = k[i] * gb[i] - ob[i];
        ob[i] = k[i] * ob[i] + zb[i];
      }
      const scalar_t* d = act.dphi + b * n;
      const scalar_t* a_hat = ahat + b * m;
      scalar_t* tb = trace + b * n * m;
      for (int64_t i = 0; i < n; ++i) {
        const scalar_t s = alpha * d[i];
        for (int64_t j = 0; j < m; ++j) tb[i * m + j] = k[i] * tb[i * m + j] + s * a_hat[j];
      }
      const scalar_t* ab = act.state + b * n;
      for (int64_t i = 0; i < n; ++i) {  // eps = A Omega - (a~ - a_t)
        scalar_t e = ab[i] - pb[i];
        for (int64_t j = 0; j < n; ++j) e += A[i * n + j] * ob[j];
        eps[i] = e;
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
    // G = 1/B sum_b diag(A^T q_b) B_b, reusing eps as A^T q_b.
    std::fill(G, G + n * m, scalar_t(0));
    for (int64_t b = 0; b < B; ++b) {
      transpose_times(A, act.q + b * n, n, n, eps);
      const scalar_t* tb = trace + b * n * m;
      add_outer_rows(G, eps, tb, n, m, scalar_t(1) / B);
    }
    apply_recurrent_update(net, G, rec_grad);
  }
};

void kernl_online_cpu(const OnlineCall& c) {
  constexpr const char* op = "online_learn";
  const KernlOptions o = parse_kernl_options(c.options, op);
  check_state_count(c, 8, kStateLayout, "kernl");
  const int64_t T = c.args.T, B = c.args.B, n = c.args.n, I = c.args.I, m = n + I + 1;
  const char* names[] = {"state[0] (kernl trace)", "state[1] (kernl A)", "state[2] (kernl rates)",
                         "state[3] (kernl omega)", "state[4] (kernl gamma)", "state[5] (kernl zeta)",
                         "state[6] (kernl perturbed)", "state[7] (kernl count)"};
  const std::vector<std::vector<int64_t>> shapes = {{B, n, m}, {n, n}, {n}, {B, n}, {B, n}, {B, n}, {B, n}, {1}};
  const char* layouts[] = {"(batch, hidden_size, hidden_size + input_size + 1)", "(hidden_size, hidden_size)",
                           "(hidden_size,)", "(batch, hidden_size)", "(batch, hidden_size)", "(batch, hidden_size)",
                           "(batch, hidden_size)", "(1,)"};
  for (size_t s = 0; s < 8; ++s) check_state(op, c.state[s], c.x, shapes[s], names[s], layouts[s]);
  const double count = c.state[7].item<double>();
  TORCH_CHECK(std::isfinite(count) && count >= 0 && count == std::floor(count) &&
                  (o.reset_interval == 0 || count < o.reset_interval),
              op, ": expected state[7] (kernl count) to hold an integer in [0, reset_interval = ", o.reset_interval,
              ") (any integer >= 0 when reset_interval is 0), but got ", count);
  check_rule_tensor_count(c.tensors, 1, op, "kernl", "[noise (seq_len, batch, hidden_size)]");
  const at::Tensor noise = rule_tensor(c.tensors, 0, c.x, {T, B, n}, op, "rule_tensors[0] (kernl noise)",
                                       "(seq_len, batch, hidden_size)");
  at::Tensor work = at::empty({4 * n + n * n + B * m + n * m}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    auto p = [&](size_t s) { return c.state[s].data_ptr<scalar_t>(); };
    scalar_t* w = work.data_ptr<scalar_t>();
    scalar_t *k = w, *moved = w + n, *eps = w + 2 * n, *grad_rates = w + 3 * n, *grad_A = w + 4 * n;
    scalar_t* ahat = grad_A + n * n;
    return KernlRule<scalar_t>{p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), noise.data_ptr<scalar_t>(), o,
                               k, moved, eps, grad_A, grad_rates, ahat, ahat + B * m, rec_grad_ptr<scalar_t>(c)};
  });
}

BackwardResult kernl_backward_cpu(const SequenceArgs& a) {
  constexpr const char* op = "leaky_rnn_rule_backward";
  parse_kernl_options(a.options, op);
  const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0);
  check_rule_tensor_count(a.tensors, 2, op, "kernl", "[A (hidden_size, hidden_size), rates (hidden_size)]");
  const at::Tensor A = rule_tensor(a.tensors, 0, a.x, {n, n}, op, "rule_tensors[0] (kernl A)",
                                   "(hidden_size, hidden_size)");
  const at::Tensor rates = rule_tensor(a.tensors, 1, a.x, {n}, op, "rule_tensors[1] (kernl rates)", "(hidden_size,)");
  // A^T g_t for every row at once, then the reverse filter c~_t = A^T g_t + k (.) c~_{t+1} in place.
  at::Tensor credit = at::mm(a.grad_output.reshape({T * B, n}), A).view({T, B, n});
  at::Tensor k = at::empty({n}, a.x.options());
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), op, [&] {
    kernel_from_rates(rates.data_ptr<scalar_t>(), n, k.data_ptr<scalar_t>());
    scalar_t* c = credit.data_ptr<scalar_t>();
    const scalar_t* kp = k.data_ptr<scalar_t>();
    at::parallel_for(0, B * n, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, T)), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const scalar_t kr = kp[r % n];
        for (int64_t t = T - 2; t >= 0; --t) c[t * B * n + r] += kr * c[(t + 1) * B * n + r];
      }
    });
  });
  return result_from_credit(a, a.alpha * a.dphi * credit);
}

const bool registered = CpuSequenceRules::add("kernl", &kernl_backward_cpu) &&
                        CpuOnlineRules::add("kernl", &kernl_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
