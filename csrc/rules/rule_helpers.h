// Pieces the rules' descriptors share (common/rule_descriptor.h).
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../common/rule_descriptor.h"

namespace torch_local_rnn {
namespace rules {

constexpr double kNetworkAlpha = std::numeric_limits<double>::quiet_NaN();  // a default: the network's alpha

// legacy_alpha_omission (docs/algorithms.md §2.6): a flag, off by default.
inline OptionSpec legacy_alpha_option() { return {"legacy_alpha_omission", OptionKind::Flag, 0.0}; }

// m = n + I + 1: the presynaptic vector ahat = [a; x; 1] every trace is laid out over.
inline int64_t presynaptic(const RuleSizes& s) { return s.n + s.I + 1; }

// Rules without options (bptt, output_only).
inline RuleOptions no_options(const std::vector<double>&, double) { return NoOptions{}; }

inline const char* kPerUnit = "(batch, hidden_size)";
inline const char* kPerSynapse = "(batch, hidden_size, hidden_size + input_size + 1)";

}  // namespace rules
}  // namespace torch_local_rnn
