// The descriptor of KeRNL (docs/algorithms.md §3.7): [sigma, lr, reset_interval, version, learned_alpha_e];
// it carries the eligibility trace, the learned mixing A and rates, the perturbed copy's signals and the
// reset counter.
#include "../rule_helpers.h"

namespace torch_local_rnn {
namespace {

using namespace rules;

RuleOptions kernl_options(const std::vector<double>& v, double) {
  return KernlOptions{v[0], v[1], static_cast<int64_t>(v[2]), static_cast<KernlVersion>(static_cast<int>(v[3])),
                      v[4] == 1.0};
}

std::vector<StateSpec> kernl_state(const RuleOptions&, const RuleSizes& s) {
  const std::vector<int64_t> unit = {s.B, s.n};
  return {{"trace", "trace", {s.B, s.n, presynaptic(s)}, kPerSynapse},
          {"kernl_mixing", "A", {s.n, s.n}, "(hidden_size, hidden_size)"},
          {"kernl_rates", "rates", {s.n}, "(hidden_size,)"},
          {"kernl_omega", "omega", unit, kPerUnit},
          {"kernl_gamma", "gamma", unit, kPerUnit},
          {"kernl_zeta", "zeta", unit, kPerUnit},
          {"kernl_perturbed", "perturbed", unit, kPerUnit},
          {"kernl_count", "count", {1}, "(1,)"}};
}

const bool registered = register_rule(
    {.name = "kernl",
     .options = {{"sigma", OptionKind::NonNegative, 1e-5},
                 {"lr", OptionKind::NonNegative, 5.0},
                 {"reset_interval", OptionKind::Index, 0.0},
                 {"version", OptionKind::Choice, 0.0, 3,
                  "to be 0 (2020), 1 (2019, approximate kernel) or 2 (2019, exact kernel)"},
                 {"learned_alpha_e", OptionKind::Flag, 0.0}},
     .counts = {0, 3, 5},
     .make = &kernl_options,
     .state = &kernl_state});

}  // namespace
}  // namespace torch_local_rnn
