// What both backends' online RFLO glue builds from an online_learn call (host only): the step of
// rules/rflo/rflo_step.h over the carried trace and its ahat scratch.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <variant>

#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include "rflo_step.h"

namespace torch_local_rnn {

// ahat_t of every stream: (B, m).
inline at::Tensor rflo_scratch(const OnlineCall& c) {
  return at::empty({c.args.B, c.args.n + c.args.I + 1}, c.x.options());
}

// rflo and eprop: state = [trace (B, n, m)], checked by online_learn (rules/rflo/descriptor.cpp).
template <typename Exec, typename T>
RfloTrace<Exec, T> make_rflo_trace(const OnlineCall& c, const at::Tensor& ahat) {
  return {c.state[0].data_ptr<T>(), ahat.data_ptr<T>(), static_cast<T>(std::get<RfloOptions>(c.options).trace_alpha)};
}

}  // namespace torch_local_rnn
