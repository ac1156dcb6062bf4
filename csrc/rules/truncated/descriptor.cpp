// The descriptors of the truncated BPTTs (docs/algorithms.md §3.9, §3.10): f_bptt [truncation] and e_bptt
// [window], each carrying ring buffers of the last K steps and the step count that indexes them.
#include "../rule_helpers.h"

namespace torch_local_rnn {
namespace {

using namespace rules;

RuleOptions truncated_options(const std::vector<double>& v, double) {
  return TruncatedOptions{static_cast<int64_t>(v[0]), v[1] == 1.0};
}

template <const char* Length>
std::vector<StateSpec> history_state(const RuleOptions& options, const RuleSizes& s) {
  const int64_t K = std::get<TruncatedOptions>(options).length;
  const std::string unit = std::string("(") + Length + ", batch, hidden_size)";
  const std::string input = std::string("(") + Length + ", batch, hidden_size + input_size + 1)";
  return {{"dphi_history", "dphi_history", {K, s.B, s.n}, unit},
          {"input_history", "input_history", {K, s.B, presynaptic(s)}, input},
          {"credit_history", "credit_history", {K, s.B, s.n}, unit},
          {"count", "count", {1}, "(1,)"}};
}

constexpr char kTruncation[] = "truncation";
constexpr char kWindow[] = "window";
const char* kHistoryLayout = "[dphi_history, input_history, credit_history, count]";

const bool registered =
    register_rule({.name = "f_bptt",
                   .options = {{kTruncation, OptionKind::Count, 21.0}, legacy_alpha_option()},
                   .counts = {1, 2},
                   .make = &truncated_options,
                   .state = &history_state<kTruncation>,
                   .state_layout = kHistoryLayout,
                   .reads_tensors = false}) &&
    register_rule({.name = "e_bptt",
                   .options = {{kWindow, OptionKind::Count, 20.0}, legacy_alpha_option()},
                   .counts = {1, 2},
                   .make = &truncated_options,
                   .state = &history_state<kWindow>,
                   .state_layout = kHistoryLayout,
                   .reads_tensors = false});

}  // namespace
}  // namespace torch_local_rnn
