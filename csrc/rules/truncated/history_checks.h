// The state checks of the truncated BPTTs (f_bptt, e_bptt; docs/algorithms.md §3.9, §3.10), shared by
// both backends' online forms: state = [dphi_history, input_history, credit_history, count], the
// ring buffers of the last K steps and the step count that indexes them.
#pragma once

#include <ATen/core/Tensor.h>

#include <cmath>
#include <string>
#include <vector>

#include "../../common/online_checks.h"
#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include <variant>

namespace torch_local_rnn {

// K = the truncation or window, after checking the step count: an integer in [0, count_limit * K),
// since the kernels index the ring buffers with it unchecked (the shapes are checked by online_learn
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

}  // namespace torch_local_rnn
