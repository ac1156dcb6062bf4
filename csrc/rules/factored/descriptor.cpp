// The descriptors of the stochastic factored approximations of RTRL (docs/algorithms.md §3.3-3.5):
// [legacy_alpha_omission, rho0, rho1] and for UORO also epsilon (its forward-difference variant, online
// only); each carries the factors A and B of M ~ A (x) B.
#include "../rule_helpers.h"

#include <c10/util/Exception.h>

namespace torch_local_rnn {
namespace {

using namespace rules;

RuleOptions factored_options(const std::vector<double>& v, double) {
  return FactoredOptions{v[0] == 1.0, v[1], v[2], v.size() > 3 ? v[3] : 0.0};
}

void check_factored(const RuleDescriptor& rule, c10::ArrayRef<double> options, RuleForm form, const char* op) {
  TORCH_CHECK(options.size() != 2, op, ": rule '", rule.name, "' takes rho0 and rho1 together (rule_options = ",
              "[legacy_alpha_omission, rho0, rho1]), but got 2 values");
  // The forward difference re-runs a step, which needs the bias the sequence form does not have.
  TORCH_CHECK(form == RuleForm::Online || rule.options.size() < 4 || options.size() < 4 || !(options[3] > 0.0), op, ": rule '", rule.name,
              "' has no sequence form of its forward-difference variant (epsilon > 0 re-runs a step, which needs ",
              "the bias); use epsilon = 0 or the online form");
}

// UORO and R-KF-RTRL: A (B, n), B (B, n, m); KF-RTRL: A (B, m), B (B, n, n).
std::vector<StateSpec> unit_first_state(const RuleOptions&, const RuleSizes& s) {
  return {{"factor_a", "A", {s.B, s.n}, kPerUnit}, {"factor_b", "B", {s.B, s.n, presynaptic(s)}, kPerSynapse}};
}

std::vector<StateSpec> kf_state(const RuleOptions&, const RuleSizes& s) {
  return {{"factor_a", "A", {s.B, presynaptic(s)}, "(batch, hidden_size + input_size + 1)"},
          {"factor_b", "B", {s.B, s.n, s.n}, "(batch, hidden_size, hidden_size)"}};
}

std::vector<OptionSpec> factored_option_specs(bool epsilon) {
  std::vector<OptionSpec> o = {legacy_alpha_option(), {"rho0", OptionKind::NonNegative, 0.0},
                               {"rho1", OptionKind::NonNegative, 0.0}};
  if (epsilon) o.push_back({"epsilon", OptionKind::NonNegative, 0.0});
  return o;
}

const bool registered =
    register_rule({.name = "uoro",
                   .options = factored_option_specs(true),
                   .counts = {0, 1, 3, 4},
                   .make = &factored_options,
                   .state = &unit_first_state,
                   .check = &check_factored}) &&
    register_rule({.name = "kf_rtrl",
                   .options = factored_option_specs(false),
                   .counts = {0, 1, 3},
                   .make = &factored_options,
                   .state = &kf_state,
                   .check = &check_factored}) &&
    register_rule({.name = "rkf_rtrl",
                   .options = factored_option_specs(false),
                   .counts = {0, 1, 3},
                   .make = &factored_options,
                   .state = &unit_first_state,
                   .check = &check_factored});

}  // namespace
}  // namespace torch_local_rnn
