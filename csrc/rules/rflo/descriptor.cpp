// The descriptors of RFLO [trace_alpha] and e-prop (docs/algorithms.md §3.6): one eligibility trace
// B_t (n x m) per stream. e-prop is RFLO with the membrane's own rate, so it has no options.
#include "../rule_helpers.h"

namespace torch_local_rnn {
namespace {

using namespace rules;

RuleOptions rflo_options(const std::vector<double>& v, double) { return RfloOptions{v[0]}; }
RuleOptions eprop_options(const std::vector<double>&, double alpha) { return RfloOptions{alpha}; }

std::vector<StateSpec> trace_state(const RuleOptions&, const RuleSizes& s) {
  return {{"trace", "trace", {s.B, s.n, presynaptic(s)}, kPerSynapse}};
}

const bool registered =
    register_rule({.name = "rflo",
                   .options = {{"trace_alpha", OptionKind::Rate, kNetworkAlpha}},
                   .counts = {0, 1},
                   .make = &rflo_options,
                   .state = &trace_state,
                   .reads_tensors = false}) &&
    register_rule(
        {.name = "eprop", .counts = {0}, .make = &eprop_options, .state = &trace_state, .reads_tensors = false});

}  // namespace
}  // namespace torch_local_rnn
