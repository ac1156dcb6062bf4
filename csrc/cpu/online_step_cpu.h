// The pieces of one online training step shared by every online rule on the CPU, in the
// order of algorithms.md §2.1: forward with the current weights, readout and loss, the
// immediate credit q_t, then (rule-specific) traces and recurrent update, then the readout's
// SGD step. Raw loops over preallocated buffers: at n = 32, B = 1 (the papers' setting) a
// step is a few thousand flops, so any ATen call or allocation would dominate it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>

#include "../common/activation.h"
#include "../common/online_net.h"
#include "../common/online_rule.h"
#include "dot_cpu.h"
#include "parallel_cpu.h"

namespace torch_local_rnn {

// h_t = W_hh a_{t-1} + W_ih x_t + b; a_t = (1 - alpha) a_{t-1} + alpha phi(h_t); keeps phi'(h_t).
template <typename scalar_t>
void online_forward(const OnlineNet<scalar_t>& net, const scalar_t* x, OnlineActivity<scalar_t>& act) {
  const int64_t n = net.n, I = net.I;
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / (n + I));
  at::parallel_for(0, net.B * n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t b = r / n, i = r % n;
      const scalar_t* ap = act.prev + b * n;
      const scalar_t h = preactivation(net.weight_hh, net.weight_ih, net.bias, n, I, i, ap, x + b * I);
      const scalar_t y = activate(net.f, h);
      act.state[r] = (1 - net.alpha) * ap[i] + net.alpha * y;
      act.dphi[r] = derivative_from_value(net.f, y);
    }
  });
}

// z_t = W_out a_t + b_out; writes e_t and returns nothing but the per-stream loss in `loss`.
//   cross-entropy: L = -sum_k y_k log(max(softmax(z)_k, 1e-4)), e = softmax(z) - y;
//   mse:           L = 1/2 mean_k (z_k - y_k)^2,                 e = z - y  (algorithms.md §1);
//   mse_mean:      the same L,                                    e = (z - y) / O.
template <typename scalar_t>
void online_readout(const OnlineNet<scalar_t>& net, const scalar_t* y, OnlineActivity<scalar_t>& act,
                    scalar_t* loss) {
  const int64_t n = net.n, O = net.O;
  for (int64_t b = 0; b < net.B; ++b) {
    const scalar_t* a = act.state + b * n;
    const scalar_t* yb = y + b * O;
    scalar_t* e = act.error + b * O;
    for (int64_t o = 0; o < O; ++o) {
      e[o] = net.bias_out[o] + dot(net.weight_out + o * n, a, n);
    }
    scalar_t l = 0;
    if (net.loss == Loss::CrossEntropy) {
      scalar_t zmax = e[0];
      for (int64_t o = 1; o < O; ++o) zmax = std::max(zmax, e[o]);
      scalar_t total = 0;
      for (int64_t o = 0; o < O; ++o) total += (e[o] = std::exp(e[o] - zmax));
      for (int64_t o = 0; o < O; ++o) {
        const scalar_t p = e[o] / total;
        l -= yb[o] * std::log(std::max(p, scalar_t(1e-4)));
        e[o] = p - yb[o];
      }
    } else {
      for (int64_t o = 0; o < O; ++o) {
        e[o] -= yb[o];
        l += e[o] * e[o];
      }
      l *= scalar_t(0.5) / O;
      if (net.loss == Loss::MseMean) {
        for (int64_t o = 0; o < O; ++o) e[o] /= O;
      }
    }
    loss[b] = l;
  }
}

// q_t = feedback^T e_t: the output error carried back to the hidden units (W_out^T or W_FB^T).
template <typename scalar_t>
void online_credit(const OnlineNet<scalar_t>& net, OnlineActivity<scalar_t>& act) {
  const int64_t n = net.n, O = net.O;
  for (int64_t b = 0; b < net.B; ++b) {
    scalar_t* q = act.q + b * n;
    const scalar_t* e = act.error + b * O;
    std::fill(q, q + n, scalar_t(0));
    for (int64_t o = 0; o < O; ++o) {
      const scalar_t* fb = net.feedback + o * n;
      for (int64_t i = 0; i < n; ++i) q[i] += fb[i] * e[o];
    }
  }
}

// Readout delta rule averaged over streams: W_out -= lr/B sum_b e_b a_b^T (+ lr l2 W_out),
// b_out -= lr/B sum_b e_b.
template <typename scalar_t>
void online_readout_sgd(const OnlineNet<scalar_t>& net, const OnlineActivity<scalar_t>& act) {
  const int64_t n = net.n, O = net.O;
  const scalar_t step = net.lr / net.B;
  if (net.l2 > 0) {
    const scalar_t shrink = net.lr * net.l2;
    for (int64_t k = 0; k < O * n; ++k) net.weight_out[k] -= shrink * net.weight_out[k];
  }
  for (int64_t b = 0; b < net.B; ++b) {
    const scalar_t* a = act.state + b * n;
    for (int64_t o = 0; o < O; ++o) {
      const scalar_t s = step * act.error[b * O + o];
      scalar_t* w = net.weight_out + o * n;
      for (int64_t i = 0; i < n; ++i) w[i] -= s * a[i];
      net.bias_out[o] -= s;
    }
  }
}

// Runs T online steps. `rule.step(net, x_t, act)` updates the rule's traces from
// (a_{t-1}, x_t, phi'(h_t)) and applies its recurrent update using q_t; everything else is shared.
template <typename scalar_t, typename Rule>
void run_online(const OnlineNet<scalar_t>& net, Rule& rule, const scalar_t* x, const scalar_t* y, scalar_t* hidden,
                scalar_t* losses, int64_t T, OnlineActivity<scalar_t>& act) {
  const int64_t Bn = net.B * net.n;
  std::copy(hidden, hidden + Bn, act.prev);
  for (int64_t t = 0; t < T; ++t) {
    const scalar_t* xt = x + t * net.B * net.I;
    online_forward(net, xt, act);
    act.label = y + t * net.B * net.O;
    act.t = t;
    online_readout(net, act.label, act, losses + t * net.B);
    online_credit(net, act);
    if (net.decay != nullptr) {  // W_hh, W_ih before the rule's update: the L2 term uses the old weights
      std::copy(net.weight_hh, net.weight_hh + net.n * net.n, net.decay);
      std::copy(net.weight_ih, net.weight_ih + net.n * net.I, net.decay + net.n * net.n);
    }
    rule.step(net, xt, act);
    online_readout_sgd(net, act);
    if (net.decay != nullptr) {
      const scalar_t shrink = net.lr * net.l2;
      for (int64_t k = 0; k < net.n * net.n; ++k) net.weight_hh[k] -= shrink * net.decay[k];
      for (int64_t k = 0; k < net.n * net.I; ++k) net.weight_ih[k] -= shrink * net.decay[net.n * net.n + k];
    }
    std::swap(act.prev, act.state);
  }
  std::copy(act.prev, act.prev + Bn, hidden);
}

// Carves (prev, state, dphi, q: B*n each; error: B*O) out of one workspace of 4*B*n + B*O.
template <typename scalar_t>
OnlineActivity<scalar_t> carve_activity(at::Tensor& workspace, const OnlineArgs& a) {
  scalar_t* p = workspace.data_ptr<scalar_t>();
  const int64_t Bn = a.B * a.n;
  return {p, p + Bn, p + 2 * Bn, p + 4 * Bn, p + 3 * Bn};
}

// The shared online loop for a rule of the online_learn table: builds the network view and the
// activity workspace, then runs T steps with the rule make_rule(scalar_t{}) returns (its
// buffers must be allocated before this call: nothing is allocated inside the loop).
template <typename MakeRule>
void run_online_call(const OnlineCall& c, MakeRule&& make_rule) {
  at::Tensor workspace = at::empty({4 * c.args.B * c.args.n + c.args.B * c.args.O}, c.x.options());
  at::Tensor decay = c.args.l2 > 0 ? at::empty({c.args.n * (c.args.n + c.args.I)}, c.x.options()) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(c.x.scalar_type(), "online_learn", [&] {
    OnlineNet<scalar_t> net = make_online_net<scalar_t>(c);
    if (decay.defined()) net.decay = decay.data_ptr<scalar_t>();
    OnlineActivity<scalar_t> act = carve_activity<scalar_t>(workspace, c.args);
    auto rule = make_rule(scalar_t{});
    run_online(net, rule, c.x.data_ptr<scalar_t>(), c.y.data_ptr<scalar_t>(), c.hidden.data_ptr<scalar_t>(),
               c.losses.data_ptr<scalar_t>(), c.args.T, act);
  });
}

}  // namespace torch_local_rnn
