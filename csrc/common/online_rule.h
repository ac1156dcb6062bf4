// The online-form kernels of the rules routed through online_learn: one entry per rule per
// backend, added from the rule's own file (common/rule_registry.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <optional>

#include "online_checks.h"
#include "online_net.h"
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
};

using OnlineRuleFn = void (*)(const OnlineCall&);
struct CpuOnlineTag {};
struct CudaOnlineTag {};
using CpuOnlineRules = RuleTable<OnlineRuleFn, CpuOnlineTag>;
using CudaOnlineRules = RuleTable<OnlineRuleFn, CudaOnlineTag>;

// The raw view of the network and readout both backends' online loops run on.
template <typename scalar_t>
OnlineNet<scalar_t> make_online_net(const OnlineCall& c) {
  const OnlineArgs& a = c.args;
  return {a.B, a.n, a.I, a.O,
          c.weight_hh.data_ptr<scalar_t>(), c.weight_ih.data_ptr<scalar_t>(), c.bias.data_ptr<scalar_t>(),
          c.weight_out.data_ptr<scalar_t>(), c.bias_out.data_ptr<scalar_t>(),
          c.feedback ? c.feedback->data_ptr<scalar_t>() : c.weight_out.data_ptr<scalar_t>(),
          static_cast<scalar_t>(c.alpha), static_cast<scalar_t>(c.lr), a.f, a.loss, static_cast<scalar_t>(a.l2),
          nullptr};
}

// rec_grad's pointer, or null.
template <typename scalar_t>
scalar_t* rec_grad_ptr(const OnlineCall& c) {
  return c.rec_grad ? c.rec_grad->data_ptr<scalar_t>() : nullptr;
}

}  // namespace torch_local_rnn
