// The optimiser the online loop applies to the network's and the readout's parameters after every step
// (docs/algorithms.md §2.7), written once for both backends. Framework-free (the CUDA kernels include it).
//
// "sgd" keeps the papers' fused form: each rule subtracts lr G where it forms G, and the readout its delta
// rule, with no gradient buffer (common/credit.h). Every other optimiser runs in two parts: the rule's step
// and the readout write this step's gradients into `grad_rec` (n, m) and `grad_out` (O, n + 1) instead of
// moving the weights (the "capture" of credit.h), and apply_optimizer then moves every weight from its
// gradient in one more phase. "none" captures and stops there: the weights stay, and the caller (the
// data-parallel learner, which all-reduces the gradients first) applies them with online_optimizer_step.
// The formulas are torch.optim's (SGD with momentum, Adam, AdamW; foreach=False), so a learner equals a
// per-step loop over torch.optim; L2 (the learner's l2, on W_hh, W_ih, W_out, never the biases) is added to
// the gradient (coupled, as SGD's and Adam's weight_decay), except for AdamW, which decays the weight itself.
#pragma once

#include <cmath>
#include <cstdint>

#include "activation.h"

namespace torch_local_rnn {

enum class Optimizer : int { Sgd = 0, Momentum = 1, Adam = 2, AdamW = 3, None = 4 };

// How many state tensors of each block (recurrent (n, m), readout (O, n + 1)) an optimiser keeps: momentum
// its velocity, Adam its two moments, "none" the captured gradients.
inline constexpr int optimizer_slots(Optimizer kind) {
  return kind == Optimizer::Momentum ? 1 : (kind == Optimizer::Adam || kind == Optimizer::AdamW ? 2 : 0);
}

template <typename T>
struct OnlineOptimizer {
  Optimizer kind = Optimizer::Sgd;
  // momentum: momentum, dampening, nesterov; adam/adamw: beta1, beta2, eps
  T momentum = 0, dampening = 0, beta1 = 0, beta2 = 0, eps = 0;
  bool nesterov = false;
  int64_t steps_before = 0;  // optimiser steps taken before this call (Adam's bias correction, momentum's start)
  T* grad_rec = nullptr;     // (n, m): the step's captured gradient of [W_hh | W_ih | b] (every kind but sgd)
  T* grad_out = nullptr;     // (O, n + 1): of [W_out | b_out]
  T* rec_state[2] = {nullptr, nullptr};  // (n, m) each: velocity, or Adam's m and v
  T* out_state[2] = {nullptr, nullptr};  // (O, n + 1) each

  TLR_HOST_DEVICE bool captures() const { return kind != Optimizer::Sgd; }
};

// The per-step scalars of an optimiser step number `step` (1-based) at learning rate lr.
template <typename T>
struct OptimizerScalars {
  T lr, step_size, bias2_sqrt;
  bool first;
};

template <typename T>
TLR_HOST_DEVICE OptimizerScalars<T> optimizer_scalars(const OnlineOptimizer<T>& o, T lr, int64_t step) {
  OptimizerScalars<T> s{lr, lr, T(1), step == 1};
  if (o.kind == Optimizer::Adam || o.kind == Optimizer::AdamW) {
    s.step_size = lr / (T(1) - pow(o.beta1, T(step)));
    s.bias2_sqrt = sqrt(T(1) - pow(o.beta2, T(step)));
  }
  return s;
}

// torch.lerp's formula (the weight's side picks the form), as Adam's first moment uses it.
template <typename T>
TLR_HOST_DEVICE T lerp_torch(T start, T end, T weight) {
  return weight < T(0.5) ? start + weight * (end - start) : end - (end - start) * (T(1) - weight);
}

// One weight w with gradient g (without L2) and its state entries s0, s1 (null where the kind keeps none);
// l2 = 0 for biases.
template <typename T>
TLR_HOST_DEVICE void optimizer_update(const OnlineOptimizer<T>& o, const OptimizerScalars<T>& s, T l2, T& w, T g,
                                      T* s0, T* s1) {
  switch (o.kind) {
    case Optimizer::Momentum: {  // torch.optim.SGD(momentum, dampening, nesterov): the first step's buffer is g
      g += l2 * w;
      *s0 = s.first ? g : o.momentum * *s0 + (T(1) - o.dampening) * g;
      w -= s.lr * (o.nesterov ? g + o.momentum * *s0 : *s0);
      break;
    }
    case Optimizer::Adam:
    case Optimizer::AdamW: {  // torch.optim.Adam / AdamW (amsgrad=False)
      if (o.kind == Optimizer::AdamW) {
        w *= T(1) - s.lr * l2;
      } else {
        g += l2 * w;
      }
      *s0 = lerp_torch(*s0, g, T(1) - o.beta1);
      *s1 = o.beta2 * *s1 + (T(1) - o.beta2) * g * g;
      w -= s.step_size * (*s0 / (sqrt(*s1) / s.bias2_sqrt + o.eps));
      break;
    }
    default: {  // sgd, applied by online_optimizer_step to an all-reduced gradient
      w -= s.lr * (g + l2 * w);
      break;
    }
  }
}

// Moves W = [W_hh | W_ih | b] and [W_out | b_out] by the optimiser from the captured gradients (grad_rec,
// grad_out; the readout only when `readout`). Every entry is its own element, so one phase; `net` gives the
// weights, `o` the gradients and state.
template <typename Exec, typename T, typename Net>
TLR_HOST_DEVICE void apply_optimizer(const Net& net, const OnlineOptimizer<T>& o, const OptimizerScalars<T>& s,
                                     bool readout = true) {
  using Index = typename Exec::Index;  // IndexOf<Exec> (common/online_step.h, which includes this file)
  const Index n = Index(net.n), I = Index(net.I), m = n + I + 1, O = Index(net.O), mo = n + 1;
  const T l2 = net.l2;
  T *const w_hh = net.weight_hh, *const w_ih = net.weight_ih, *const bias = net.bias;
  T *const w_out = net.weight_out, *const b_out = net.bias_out;
  const auto entry = [](T* state, Index p) { return state == nullptr ? state : state + p; };
  Exec::loop2(n, m, 1, [=](Index i, Index j) {
    const Index p = i * m + j;
    T& w = j < n ? w_hh[i * n + j] : (j < n + I ? w_ih[i * I + (j - n)] : bias[i]);
    optimizer_update(o, s, j < n + I ? l2 : T(0), w, o.grad_rec[p], entry(o.rec_state[0], p), entry(o.rec_state[1], p));
  });
  if (!readout) return;
  Exec::loop2(O, mo, 1, [=](Index r, Index j) {
    const Index p = r * mo + j;
    T& w = j < n ? w_out[r * n + j] : b_out[r];
    optimizer_update(o, s, j < n ? l2 : T(0), w, o.grad_out[p], entry(o.out_state[0], p), entry(o.out_state[1], p));
  });
}

}  // namespace torch_local_rnn
