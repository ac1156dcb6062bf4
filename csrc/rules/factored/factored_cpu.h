// Pieces shared by the stochastic factored approximations of RTRL's influence matrix on the CPU
// (UORO, KF-RTRL, R-KF-RTRL; docs/algorithms.md §3.3-3.5): products with the Jacobian taken without
// forming it (§9), Frobenius norms, and the drivers of the sequence and online forms. The rescaling
// rho (rules/factored/factored_rho.h) and the layouts and checks (rules/factored/factored_layout.h) are shared
// with the CUDA drivers (rules/factored/factored_cuda.h).
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>

#include <string>
#include <vector>

#include "../../common/activation.h"
#include "../../common/checks.h"
#include "factored_layout.h"
#include "factored_rho.h"
#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include "../../common/sequence_rule.h"
#include "../../cpu/credit_cpu.h"
#include "../../common/dot.h"
#include "../../cpu/online_step_cpu.h"
#include "../../cpu/parallel_cpu.h"

namespace torch_local_rnn {

// out = J_t X = (1 - alpha) X + alpha diag(phi'(h_t)) (W_hh X) for X (n, c): one BLAS GEMM into
// out (preallocated, must not alias X), then the row scaling.
template <typename scalar_t>
void jacobian_times(const at::Tensor& weight_hh, const at::Tensor& X, at::Tensor& out, const scalar_t* dphi,
                    scalar_t alpha) {
  at::mm_out(out, weight_hh, X);
  const int64_t n = X.size(0), c = X.size(1);
  const scalar_t* xp = X.data_ptr<scalar_t>();
  scalar_t* op = out.data_ptr<scalar_t>();
  at::parallel_for(0, n, work_grain(c), [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      const scalar_t s = alpha * dphi[k];
      for (int64_t p = k * c; p < (k + 1) * c; ++p) op[p] = (1 - alpha) * xp[p] + s * op[p];
    }
  });
}

// out = J_t v for one vector v (n): (1 - alpha) v + alpha phi' (.) (W_hh v). out must not alias v.
template <typename scalar_t>
void jacobian_times_vector(const scalar_t* weight_hh, int64_t n, scalar_t alpha, const scalar_t* dphi,
                           const scalar_t* v, scalar_t* out) {
  for (int64_t k = 0; k < n; ++k) {
    out[k] = (1 - alpha) * v[k] + alpha * dphi[k] * dot(weight_hh + k * n, v, n);
  }
}

template <typename scalar_t>
scalar_t frobenius(const scalar_t* p, int64_t count) {
  return std::sqrt(dot(p, p, count));
}

// What one stream's factored step reads besides its own factors.
template <typename scalar_t>
struct FactoredContext {
  const at::Tensor& weight_hh;                      // for the BLAS products J X
  const scalar_t *w_hh, *w_ih, *bias;               // bias: null in the sequence form
  scalar_t alpha, alpha_m;                          // alpha_m: the factor of Mbar (immediate_alpha)
  Nonlinearity f;
  int64_t n, I;
  const FactoredOptions& options;
};

// One stream's factors (views into the carried state, or the sequence form's buffers) and scratch.
// A rule's Stream derives from it and adds layout(n, m) (rules/factored/factored_layout.h), scratch_size(n, m)
// (values of `scratch`), step(ctx, prev, x, next, dphi, nu, ahat) and add_gradient(G, q, scale).
template <typename scalar_t>
struct FactorPair {
  scalar_t* A;      // (a_size)
  at::Tensor Bk;    // (b_rows, b_cols), a view: BLAS products need a tensor
  at::Tensor Bf;    // (b_rows, b_cols) scratch for J B, shared by the streams
  scalar_t* scratch;
  int64_t n, m;

  void reset(int64_t a_size) {
    std::fill(A, A + a_size, scalar_t(0));
    Bk.zero_();
  }
};

// Sequence form with frozen weights: per stream the factors start at 0 (M_0 = 0 exactly, h0 does
// not depend on W), then per step stream.step(...) with the noise row nu_{t,b} and
// G += stream's estimate contracted with g_t = dL/da_t (which plays q_t's part).
template <typename scalar_t, typename Stream>
void factored_sequence(const SequenceArgs& a, const FactoredContext<scalar_t>& ctx, Stream& stream, int64_t a_size,
                       const scalar_t* noise, int64_t width, scalar_t* G, scalar_t* ahat) {
  const int64_t T = a.x.size(0), B = a.x.size(1), n = ctx.n, I = ctx.I;
  const scalar_t *x = a.x.data_ptr<scalar_t>(), *h0 = a.h0.data_ptr<scalar_t>();
  const scalar_t *out = a.output.data_ptr<scalar_t>(), *d = a.dphi.data_ptr<scalar_t>();
  const scalar_t* g = a.grad_output.data_ptr<scalar_t>();
  for (int64_t b = 0; b < B; ++b) {
    stream.reset(a_size);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t r = t * B + b;
      const scalar_t* prev = t == 0 ? h0 + b * n : out + (r - B) * n;
      presynaptic(prev, x + r * I, 1, n, I, ahat);
      stream.step(ctx, prev, x + r * I, out + r * n, d + r * n, noise + r * width, ahat);
      stream.add_gradient(G, g + r * n, scalar_t(1));
    }
  }
}

// Online form: one Stream per stream b over its slice of the carried state; G is the mean over
// streams, applied (and accumulated into rec_grad) after every step.
template <typename scalar_t, typename Stream>
struct FactoredRule {
  std::vector<Stream> streams;  // built before the loop
  FactoredContext<scalar_t> ctx;
  const scalar_t* noise;  // (T, B, width)
  int64_t width;
  scalar_t *ahat, *G, *rec_grad;

  void step(const OnlineNet<scalar_t>& net, const scalar_t* x, const OnlineActivity<scalar_t>& act) {
    const int64_t B = net.B, n = net.n, I = net.I, m = n + I + 1;
    presynaptic(act.prev, x, B, n, I, ahat);
    std::fill(G, G + n * m, scalar_t(0));
    for (int64_t b = 0; b < B; ++b) {
      streams[b].step(ctx, act.prev + b * n, x + b * I, act.state + b * n, act.dphi + b * n,
                      noise + (act.t * B + b) * width, ahat + b * m);
      streams[b].add_gradient(G, act.q + b * n, scalar_t(1) / B);
    }
    apply_recurrent_update(net, G, rec_grad);
  }
};

// leaky_rnn_rule_backward's kernel of a factored rule.
template <template <typename> class Stream>
BackwardResult factored_backward_cpu(const SequenceArgs& a) {
  constexpr const char* op = "leaky_rnn_rule_backward";
  const int64_t I = a.x.size(2), n = a.weight_hh.size(0), m = n + I + 1;
  const FactoredLayout L = Stream<float>::layout(n, m);
  const int64_t scratch = Stream<float>::scratch_size(n, m);
  const FactoredInputs in = check_factored_sequence(a, L, op);
  const FactoredOptions& o = in.options;
  const at::Tensor& noise = in.noise;
  at::Tensor gradient = at::zeros({n, m}, a.x.options());
  at::Tensor Bk = at::empty({L.b_rows, L.b_cols}, a.x.options()), Bf = at::empty_like(Bk);
  at::Tensor work = at::empty({L.a_size + scratch + m}, a.x.options());
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), op, [&] {
    scalar_t* w = work.data_ptr<scalar_t>();
    const FactoredContext<scalar_t> ctx{a.weight_hh, a.weight_hh.data_ptr<scalar_t>(), a.weight_ih.data_ptr<scalar_t>(),
                                        nullptr, static_cast<scalar_t>(a.alpha),
                                        static_cast<scalar_t>(immediate_alpha(a.options, a.alpha)),
                                        Nonlinearity::Tanh /* read by UORO's epsilon variant only */, n, I, o};
    Stream<scalar_t> stream{{w, Bk, Bf, w + L.a_size, n, m}};
    factored_sequence(a, ctx, stream, L.a_size, noise.data_ptr<scalar_t>(), L.noise_width,
                      gradient.data_ptr<scalar_t>(), w + L.a_size + scratch);
  });
  return result_from_gradient(a, gradient);
}

// online_learn's kernel of a factored rule: state = [A (batch, a_size), B (batch, b_rows, b_cols)].
template <template <typename> class Stream>
void factored_online_cpu(const OnlineCall& c) {
  constexpr const char* op = "online_learn";
  const int64_t B = c.args.B, n = c.args.n, I = c.args.I, m = n + I + 1;
  const FactoredLayout L = Stream<float>::layout(n, m);
  const int64_t scratch = Stream<float>::scratch_size(n, m);
  const FactoredInputs in = check_factored_online(c, L, op);
  const FactoredOptions& o = in.options;
  const at::Tensor& noise = in.noise;
  at::Tensor work = at::empty({B * scratch + B * m + n * m}, c.x.options());
  at::Tensor Bf = at::empty({L.b_rows, L.b_cols}, c.x.options());
  const std::vector<at::Tensor> factors = c.state[1].unbind(0);  // views made once, outside the loop
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    scalar_t* w = work.data_ptr<scalar_t>();
    std::vector<Stream<scalar_t>> streams;
    for (int64_t b = 0; b < B; ++b) {
      streams.push_back({{c.state[0].data_ptr<scalar_t>() + b * L.a_size, factors[b], Bf, w + b * scratch, n, m}});
    }
    const FactoredContext<scalar_t> ctx{c.weight_hh, c.weight_hh.data_ptr<scalar_t>(), c.weight_ih.data_ptr<scalar_t>(),
                                        c.bias.data_ptr<scalar_t>(), static_cast<scalar_t>(c.alpha),
                                        static_cast<scalar_t>(immediate_alpha(c.options, c.alpha)), c.args.f, n, I,
                                        o};
    scalar_t* ahat = w + B * scratch;
    return FactoredRule<scalar_t, Stream<scalar_t>>{std::move(streams), ctx, noise.data_ptr<scalar_t>(),
                                                    L.noise_width, ahat, ahat + B * m, rec_grad_ptr<scalar_t>(c)};
  });
}

}  // namespace torch_local_rnn
