// What both backends' RTRL glue builds from the ops' arguments (host only): the online rule over one
// scratch buffer, and the sequence form's view of leaky_rnn's saved forward (rules/rtrl/rtrl_step.h).
#pragma once

#include <ATen/core/Tensor.h>

#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include "../../common/sequence_rule.h"
#include "rtrl_step.h"

namespace torch_local_rnn {

// The online rule's scratch: tmp (n, n*m), G (n, m), ahat (B, m).
inline int64_t rtrl_online_scratch_numel(const OnlineArgs& a) {
  const int64_t n = a.n, m = n + a.I + 1;
  return n * n * m + n * m + a.B * m;
}

template <typename Exec, typename T>
RtrlInfluence<Exec, T> make_rtrl_influence(const OnlineCall& c, T* scratch) {
  const int64_t n = c.args.n, m = n + c.args.I + 1;
  T *const tmp = scratch, *const G = tmp + n * n * m, *const ahat = G + n * m;
  return {c.state[0].data_ptr<T>(), tmp, ahat, G, rec_grad_ptr<T>(c), static_cast<T>(immediate_alpha(c.options, c.alpha))};
}

template <typename T>
RtrlSequence<T> make_rtrl_sequence(const SequenceArgs& a) {
  return {a.weight_hh.data_ptr<T>(), a.x.data_ptr<T>(),    a.h0.data_ptr<T>(),
          a.output.data_ptr<T>(),    a.dphi.data_ptr<T>(), a.grad_output.data_ptr<T>(),
          a.x.size(0),               a.x.size(1),          a.weight_hh.size(0),
          a.x.size(2),               static_cast<T>(a.alpha), static_cast<T>(immediate_alpha(a.options, a.alpha))};
}

}  // namespace torch_local_rnn
