#include "rule_options.h"

#include <cmath>

#include "checks.h"

namespace torch_local_rnn {
namespace {

void check_count(const std::string& rule, c10::ArrayRef<double> options, size_t count, const char* layout,
                 const char* op) {
  TORCH_CHECK(options.size() == count, op, ": rule '", rule, "' takes rule_options = ", layout, ", but got ",
              options.size(), " values");
}

}  // namespace

int64_t positive_int_option(c10::ArrayRef<double> options, size_t k, const std::string& rule, const char* name,
                            const char* op) {
  const double v = options[k];
  TORCH_CHECK(std::isfinite(v) && v >= 1.0 && v == std::floor(v), op, ": expected ", name, " (rule_options[", k,
              "] of rule '", rule, "') to be an integer >= 1, but got ", v);
  return static_cast<int64_t>(v);
}

bool check_local_rule_options(const std::string& rule, c10::ArrayRef<double> options, const char* op) {
  if (rule == "output_only" || rule == "rtrl") {
    check_count(rule, options, 0, "[]", op);
  } else if (rule == "f_bptt") {
    check_count(rule, options, 1, "[truncation]", op);
    positive_int_option(options, 0, rule, "truncation", op);
  } else if (rule == "e_bptt") {
    check_count(rule, options, 1, "[window]", op);
    positive_int_option(options, 0, rule, "window", op);
  } else {
    return false;
  }
  return true;
}

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
  if (check_local_rule_options(std::string(rule), options, op)) return {SequenceRule::Local, alpha};
  TORCH_CHECK(false, op, ": expected rule to be one of 'bptt', 'rflo', 'output_only', 'rtrl', 'f_bptt', 'e_bptt' ",
              "(rules with a sequence form), but got '", std::string(rule), "'");
}

}  // namespace torch_local_rnn
