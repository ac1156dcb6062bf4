// Which backward a differentiable leaky_rnn call routes to, parsed once from (rule, rule_options).
#pragma once

#include <c10/util/ArrayRef.h>
#include <c10/util/string_view.h>

#include <string>

namespace torch_local_rnn {

enum class SequenceRule : int { Bptt = 0, Rflo = 1 };

struct SequenceRuleConfig {
  SequenceRule rule;
  double trace_alpha;  // RFLO's trace rate alpha_R (algorithms.md §3.6); defaults to the network's alpha
};

// Validates the rule name and its options; the error names the accepted rules and option counts.
SequenceRuleConfig parse_sequence_rule(c10::string_view rule, c10::ArrayRef<double> options, double alpha,
                                       const char* op);

}  // namespace torch_local_rnn
