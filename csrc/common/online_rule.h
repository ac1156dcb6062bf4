// The online-form kernels of the rules routed through online_learn: one entry per rule per
// backend, added from the rule's own file (common/rule_registry.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <optional>

#include <ATen/ops/empty.h>

#include "online_checks.h"
#include "online_net.h"
#include "online_step.h"
#include "optimizer_args.h"
#include "rule_descriptor.h"
#include "rule_registry.h"

namespace torch_local_rnn {

// One online_learn call, every common argument already checked (check_online_args).
struct OnlineCall {
  const OnlineArgs& args;
  const at::Tensor &x, &y, &hidden, &weight_hh, &weight_ih, &bias, &weight_out, &bias_out;
  at::TensorList state;                        // the rule's carried tensors, updated in place
  const std::optional<at::Tensor>& rec_grad;   // (n, m): accumulates G_t when given
  const std::optional<at::Tensor>& feedback;   // (O, n) or none (W_out^T)
  double alpha, lr;
  const RuleOptions& options;                  // parsed once at the op boundary
  at::TensorList tensors;                      // rule_tensors: per-step inputs (noise), checked by the rule
  const std::optional<at::Tensor>& record;     // what the rule records per step, or none
  const at::Tensor& losses;                    // (T, B), written
  const OptimizerCall& optimizer;              // checked at the op boundary (common/optimizer_args.h)
  const std::optional<at::Tensor>& credit;     // (T, B, n) contiguous: the credit mode, or none
};

using OnlineRuleFn = void (*)(const OnlineCall&);
struct CpuOnlineTag {};
struct CudaOnlineTag {};
using CpuOnlineRules = RuleTable<OnlineRuleFn, CpuOnlineTag>;
using CudaOnlineRules = RuleTable<OnlineRuleFn, CudaOnlineTag>;

// What both backends' online loops allocate before the loop (nothing is allocated inside it): the per-step
// activity, W_hh's and W_ih's copy for the L2 term under sgd, the captured gradients of the other optimisers.
struct OnlineBuffers {
  at::Tensor workspace, decay, gradients;
};

inline OnlineBuffers allocate_online_buffers(const OnlineCall& c) {
  const OnlineArgs& a = c.args;
  OnlineBuffers b;
  b.workspace = at::empty({online_activity_numel(a.B, a.n, a.O)}, c.x.options());
  if (a.l2 > 0 && !c.optimizer.captures()) b.decay = at::empty({a.n * (a.n + a.I)}, c.x.options());
  if (c.optimizer.needs_gradient_buffer()) {
    b.gradients = at::empty({a.n * (a.n + a.I + 1) + a.O * (a.n + 1)}, c.x.options());
  }
  return b;
}

// The raw view of the network, readout and optimiser both backends' online loops run on.
template <typename scalar_t>
OnlineNet<scalar_t> make_online_net(const OnlineCall& c, const OnlineBuffers& buffers) {
  const OnlineArgs& a = c.args;
  OnlineNet<scalar_t> net{a.B, a.n, a.I, a.O,
          c.weight_hh.data_ptr<scalar_t>(), c.weight_ih.data_ptr<scalar_t>(), c.bias.data_ptr<scalar_t>(),
          c.weight_out.data_ptr<scalar_t>(), c.bias_out.data_ptr<scalar_t>(),
          c.feedback ? c.feedback->data_ptr<scalar_t>() : c.weight_out.data_ptr<scalar_t>(),
          static_cast<scalar_t>(c.alpha), static_cast<scalar_t>(c.lr), a.f, a.loss, static_cast<scalar_t>(a.l2),
          buffers.decay.defined() ? buffers.decay.data_ptr<scalar_t>() : nullptr};
  bind_optimizer(net, c.optimizer, buffers.gradients.defined() ? buffers.gradients.data_ptr<scalar_t>() : nullptr);
  net.credit = c.credit ? c.credit->data_ptr<scalar_t>() : nullptr;
  return net;
}

// rec_grad's pointer, or null.
template <typename scalar_t>
scalar_t* rec_grad_ptr(const OnlineCall& c) {
  return c.rec_grad ? c.rec_grad->data_ptr<scalar_t>() : nullptr;
}

}  // namespace torch_local_rnn
