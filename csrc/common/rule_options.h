// Which backward a differentiable leaky_rnn call routes to, parsed once from (rule, rule_options),
// and the option checks every form and backend of a rule shares.
#pragma once

#include <c10/util/ArrayRef.h>
#include <c10/util/string_view.h>

#include <cstdint>
#include <string>

namespace torch_local_rnn {

// Bptt and Rflo have ops of their own; every other rule goes through leaky_rnn_rule_backward.
enum class SequenceRule : int { Bptt = 0, Rflo = 1, Local = 2 };

struct SequenceRuleConfig {
  SequenceRule rule;
  double trace_alpha;  // RFLO's trace rate alpha_R (algorithms.md §3.6); defaults to the network's alpha
};

// Validates the rule name and its options; the error names the accepted rules and option counts.
SequenceRuleConfig parse_sequence_rule(c10::string_view rule, c10::ArrayRef<double> options, double alpha,
                                       const char* op);

// Checks the options of the rules routed through the generic ops (leaky_rnn_rule_backward,
// online_learn): output_only [], rtrl [], f_bptt [truncation >= 1], e_bptt [window >= 1].
// Returns false for a name it does not know.
bool check_local_rule_options(const std::string& rule, c10::ArrayRef<double> options, const char* op);

// options[k] as an integer >= 1, or an error naming the rule and the option.
int64_t positive_int_option(c10::ArrayRef<double> options, size_t k, const std::string& rule, const char* name,
                            const char* op);

}  // namespace torch_local_rnn
