// What both backends' online RFLO glue builds from an online_learn call (host only): the step of
// rules/rflo/rflo_step.h over the carried trace.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <variant>

#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include "rflo_step.h"

namespace torch_local_rnn {

// G's scratch (n, m) when the step must form G under sgd: only for rec_grad (the other optimisers form it in
// net.opt.grad_rec); undefined otherwise.
inline at::Tensor rflo_gradient_scratch(const OnlineCall& c) {
  const bool forms_g = c.rec_grad.has_value() && !c.optimizer.captures();
  return forms_g ? at::empty({c.args.n, c.args.n + c.args.I + 1}, c.x.options()) : at::Tensor();
}

// rflo and eprop: state = [trace (B, n, m)], checked by online_learn (rules/rflo/descriptor.cpp).
template <typename Exec, typename T>
RfloTrace<Exec, T> make_rflo_trace(const OnlineCall& c, const at::Tensor& scratch) {
  return {c.state[0].data_ptr<T>(), static_cast<T>(std::get<RfloOptions>(c.options).trace_alpha),
          rec_grad_ptr<T>(c), scratch.defined() ? scratch.data_ptr<T>() : nullptr};
}

}  // namespace torch_local_rnn
