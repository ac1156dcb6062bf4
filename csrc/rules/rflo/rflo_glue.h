// What both backends' online RFLO glue builds from an online_learn call (host only): the step of
// rules/rflo/rflo_step.h over the carried trace.
#pragma once

#include <ATen/core/Tensor.h>

#include <variant>

#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include "rflo_step.h"

namespace torch_local_rnn {

// rflo and eprop: state = [trace (B, n, m)], checked by online_learn (rules/rflo/descriptor.cpp).
template <typename Exec, typename T>
RfloTrace<Exec, T> make_rflo_trace(const OnlineCall& c) {
  return {c.state[0].data_ptr<T>(), static_cast<T>(std::get<RfloOptions>(c.options).trace_alpha)};
}

}  // namespace torch_local_rnn
