// The host side of the truncated BPTTs (f_bptt, e_bptt; docs/algorithms.md §3.9, §3.10) shared by both
// backends' glue: the online state's checks and its History view (rules/truncated/history.h), and the
// frame of the sequence form. state = [dphi_history, input_history, credit_history, count], the ring
// buffers of the last K steps and the step count that indexes them.
#pragma once

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <cmath>
#include <string>
#include <variant>

#include "../../common/online_checks.h"
#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include "../../common/sequence_rule.h"
#include "history.h"

namespace torch_local_rnn {

// K = the truncation or window, after checking the step count: an integer in [0, count_limit * K),
// since the steps index the ring buffers with it unchecked (the shapes are checked by online_learn
// against the descriptor, csrc/rules/truncated/descriptor.cpp). On CUDA reading it is one small device-to-host copy
// per call, not per step.
inline int64_t check_history_state(const OnlineCall& c, const std::string& rule, int64_t count_limit) {
  constexpr const char* op = "online_learn";
  const int64_t K = std::get<TruncatedOptions>(c.options).length;
  check_counter_range(c.x, count_limit * K, op, ("state[3] (" + rule + " count)").c_str(),
                      count_limit == 1 ? "the window" : "twice the truncation");
  const double count = c.state[3].item<double>();
  TORCH_CHECK(std::isfinite(count) && count >= 0 && count < count_limit * K && count == std::floor(count), op,
              ": expected state[3] (", rule, " count) to hold an integer in [0, ", count_limit * K, "), but got ",
              count);
  return K;
}

// The per-call buffers of an online call: 3 B n (CreditSteps::work) + n m (G) values, allocated before the loop.
inline at::Tensor history_buffers(const OnlineCall& c) {
  const int64_t B = c.args.B, n = c.args.n, m = n + c.args.I + 1;
  return at::empty({3 * B * n + n * m}, c.x.options());
}

// The state and the buffers as the steps' History.
template <typename Exec, typename scalar_t>
History<Exec, scalar_t> make_history(const OnlineCall& c, int64_t K, const at::Tensor& buffers) {
  scalar_t* work = buffers.data_ptr<scalar_t>();
  return {K,
          c.state[0].data_ptr<scalar_t>(),
          c.state[1].data_ptr<scalar_t>(),
          c.state[2].data_ptr<scalar_t>(),
          c.state[3].data_ptr<scalar_t>(),
          work,
          work + 3 * c.args.B * c.args.n,
          rec_grad_ptr<scalar_t>(c),
          static_cast<scalar_t>(immediate_alpha(c.options, c.alpha))};
}

// The sequence form on either backend: credit = g (T, B, n), carry_back(credit, K) turns it into the
// truncated credit c in place (the rule's sequence walk), then the shared GEMMs turn
// C_t = alpha phi'(h_t) (.) c_t into gradients (alpha = 1 with legacy_alpha_omission, §2.6).
template <typename CarryBack>
BackwardResult truncated_backward(const SequenceArgs& a, CarryBack&& carry_back) {
  at::Tensor credit = a.grad_output.clone(at::MemoryFormat::Contiguous);
  carry_back(credit, std::get<TruncatedOptions>(a.options).length);
  return result_from_credit(a, immediate_alpha(a.options, a.alpha) * a.dphi * credit);
}

}  // namespace torch_local_rnn
