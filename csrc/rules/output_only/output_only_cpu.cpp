// Only_Output_Weights on the CPU (docs/algorithms.md §3.1): G = 0, only the readout learns. The floor of
// "no recurrent learning" every rule is compared with; its step and its sequence form are shared
// (common/online_step.h, common/sequence_rule.h).
#include "../../cpu/online_step_cpu.h"

#include "../../common/sequence_rule.h"

namespace torch_local_rnn {
namespace {

void output_only_online_cpu(const OnlineCall& c) {
  run_online_call(c, [](auto, auto) { return NoRecurrentLearning{}; });
}

const bool registered = CpuSequenceRules::add("output_only", &zero_recurrent_backward) &&
                        CpuOnlineRules::add("output_only", &output_only_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
