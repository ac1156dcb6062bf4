// The optimiser arguments of online_learn and online_optimizer_step (docs/algorithms.md §2.7), checked once
// at the op boundary, and their binding to the raw view the shared step reads (common/online_optimizer.h).
// Host only.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/string_view.h>

#include <optional>
#include <vector>

#include "online_checks.h"
#include "online_net.h"

namespace torch_local_rnn {

// optimizer_options by kind: momentum [momentum, dampening, nesterov (0 or 1)]; adam, adamw [beta1, beta2,
// eps]; sgd, none []. optimizer_state: one flat tensor (x's dtype and device, contiguous) of
// optimizer_state_numel values: the slots of the recurrent block [W_hh | W_ih | b] (n m values each, m = n + I
// + 1), then the same slots of the readout [W_out | b_out] (O (n + 1) each), row-major. Slots: momentum
// [velocity]; adam, adamw [m, v]; none [grad] (written: the last step's gradients); sgd none at all.
// optimizer_steps: the optimiser steps taken before this call.
inline int optimizer_state_slots(Optimizer kind) { return kind == Optimizer::None ? 1 : optimizer_slots(kind); }

inline int64_t optimizer_state_numel(Optimizer kind, int64_t n, int64_t I, int64_t O) {
  return optimizer_state_slots(kind) * (n * (n + I + 1) + O * (n + 1));
}

struct OptimizerCall {
  Optimizer kind = Optimizer::Sgd;
  std::vector<double> options;
  int64_t steps = 0;
  std::optional<at::Tensor> state;
  std::optional<at::Tensor> lr_schedule;  // (T,) or none

  bool captures() const { return kind != Optimizer::Sgd; }
  // The gradient buffers the op allocates (momentum, adam, adamw): n m + O (n + 1) values; none for sgd (no
  // capture) and "none" (the caller's state holds them).
  bool needs_gradient_buffer() const { return captures() && kind != Optimizer::None; }
};

Optimizer parse_optimizer(c10::string_view name, const char* op);

// Checks name, options, state (count, shapes, dtype, device, contiguity), steps and the schedule (x's dtype and
// device, (T,), finite and >= 0) for a network of sizes a; raises naming the argument otherwise.
OptimizerCall check_optimizer_args(const char* op, c10::string_view name, c10::ArrayRef<double> options,
                                   const std::optional<at::Tensor>& state, int64_t steps, const std::optional<at::Tensor>& lr_schedule,
                                   const at::Tensor& x, const OnlineArgs& a);

// Points net.opt (and net.lr_schedule) at the call's tensors; `gradients` (n m + O (n + 1) values) holds the
// captured gradients when the op allocates them.
template <typename T>
void bind_optimizer(OnlineNet<T>& net, const OptimizerCall& c, T* gradients) {
  OnlineOptimizer<T>& o = net.opt;
  o.kind = c.kind;
  o.steps_before = c.steps;
  if (c.kind == Optimizer::Momentum) {
    o.momentum = static_cast<T>(c.options[0]);
    o.dampening = static_cast<T>(c.options[1]);
    o.nesterov = c.options[2] != 0.0;
  } else if (c.kind == Optimizer::Adam || c.kind == Optimizer::AdamW) {
    o.beta1 = static_cast<T>(c.options[0]);
    o.beta2 = static_cast<T>(c.options[1]);
    o.eps = static_cast<T>(c.options[2]);
  }
  const int slots = optimizer_slots(c.kind);
  const int64_t rec = net.n * (net.n + net.I + 1), out = net.O * (net.n + 1);
  T* const state = c.state ? c.state->data_ptr<T>() : nullptr;
  for (int k = 0; k < slots; ++k) {
    o.rec_state[k] = state + k * rec;
    o.out_state[k] = state + slots * rec + k * out;
  }
  if (c.kind == Optimizer::None) {
    o.grad_rec = state;
    o.grad_out = state + rec;
  } else if (c.captures()) {
    o.grad_rec = gradients;
    o.grad_out = gradients + rec;
  }
  net.lr_schedule = c.lr_schedule ? c.lr_schedule->data_ptr<T>() : nullptr;
  if (c.captures()) net.decay = nullptr;  // the optimiser adds the L2 term itself
}

}  // namespace torch_local_rnn
