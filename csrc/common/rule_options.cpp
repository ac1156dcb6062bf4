#include "rule_options.h"

#include "checks.h"

namespace torch_local_rnn {

SequenceRuleConfig parse_sequence_rule(c10::string_view rule, c10::ArrayRef<double> options, double alpha,
                                       const char* op) {
  check_rate(alpha, op, "alpha");  // first: it is also RFLO's default trace_alpha
  if (rule == "bptt") {
    TORCH_CHECK(options.empty(), op, ": rule 'bptt' takes no rule_options, but got ", options.size());
    return {SequenceRule::Bptt, alpha};
  }
  if (rule == "rflo") {
    TORCH_CHECK(options.size() <= 1, op, ": rule 'rflo' takes rule_options = [trace_alpha] or [], but got ",
                options.size(), " values");
    const double trace_alpha = options.empty() ? alpha : options[0];
    check_rate(trace_alpha, op, "trace_alpha (rule_options[0] of rule 'rflo')");
    return {SequenceRule::Rflo, trace_alpha};
  }
  TORCH_CHECK(false, op, ": expected rule to be one of 'bptt', 'rflo', but got '", std::string(rule), "'");
}

}  // namespace torch_local_rnn
