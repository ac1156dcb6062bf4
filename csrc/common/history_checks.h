// The state checks of the truncated BPTTs (f_bptt, e_bptt; algorithms.md §3.9, §3.10), shared by
// both backends' online forms: state = [dphi_history, input_history, credit_history, count], the
// ring buffers of the last K steps and the step count that indexes them.
#pragma once

#include <ATen/core/Tensor.h>

#include <cmath>
#include <string>
#include <vector>

#include "online_rule.h"
#include "rule_options.h"

namespace torch_local_rnn {

// Checks the state for K = rule_options[0] steps and returns K. The count must be an integer in
// [0, count_limit * K): the kernels index the ring buffers with it unchecked. (On CUDA reading it
// is one small device-to-host copy per call, not per step.)
inline int64_t check_history_state(const OnlineCall& c, const std::string& rule, const char* length,
                                   int64_t count_limit) {
  constexpr const char* op = "online_learn";
  const int64_t K = positive_int_option(c.options, 0, rule, length, op);
  check_state_count(c, 4, "[dphi_history, input_history, credit_history, count]", rule.c_str());
  const int64_t B = c.args.B, n = c.args.n, m = n + c.args.I + 1;
  const std::string per_unit = "(" + std::string(length) + ", batch, hidden_size)";
  const std::string per_input = "(" + std::string(length) + ", batch, hidden_size + input_size + 1)";
  const char* names[] = {"dphi_history", "input_history", "credit_history", "count"};
  const std::vector<int64_t> shapes[] = {{K, B, n}, {K, B, m}, {K, B, n}, {1}};
  const std::string layouts[] = {per_unit, per_input, per_unit, "(1,)"};
  for (size_t k = 0; k < 4; ++k) {
    const std::string name = "state[" + std::to_string(k) + "] (" + rule + " " + names[k] + ")";
    check_state(op, c.state[k], c.x, shapes[k], name.c_str(), layouts[k].c_str());
  }
  const double count = c.state[3].item<double>();
  TORCH_CHECK(std::isfinite(count) && count >= 0 && count < count_limit * K && count == std::floor(count), op,
              ": expected state[3] (", rule, " count) to hold an integer in [0, ", count_limit * K, "), but got ",
              count);
  return K;
}

}  // namespace torch_local_rnn
