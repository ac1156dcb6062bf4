// The descriptor of RTRL (docs/algorithms.md §3.2): [legacy_alpha_omission]; one influence matrix per stream.
#include "../rule_helpers.h"

namespace torch_local_rnn {
namespace {

using namespace rules;

RuleOptions rtrl_options(const std::vector<double>& v, double) { return RtrlOptions{v[0] == 1.0}; }

// One influence matrix M (n x n*m) per stream, M[k, i*m + j] = d a_k / d W_ij.
std::vector<StateSpec> rtrl_state(const RuleOptions&, const RuleSizes& s) {
  return {{"influence", "influence", {s.B, s.n, s.n * presynaptic(s)},
           "(batch, hidden_size, hidden_size * (hidden_size + input_size + 1))"}};
}

const bool registered = register_rule({.name = "rtrl",
                                       .options = {legacy_alpha_option()},
                                       .counts = {0, 1},
                                       .make = &rtrl_options,
                                       .state = &rtrl_state,
                                       .reads_tensors = false});

}  // namespace
}  // namespace torch_local_rnn
