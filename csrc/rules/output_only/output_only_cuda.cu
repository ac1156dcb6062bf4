// Only_Output_Weights on the GPU (docs/algorithms.md §3.1): the shared step and sequence form
// (common/online_step.h, common/sequence_rule.h) in the online kernel run_online_call picks (cuda/online_cuda.h).
#include "../../common/sequence_rule.h"
#include "../../cuda/online_cuda.h"

namespace torch_local_rnn {
namespace {

void output_only_online_cuda(const OnlineCall& c) {
  run_online_call(c, rule_buffers(), [](auto, auto) { return NoRecurrentLearning{}; });
}

const bool registered = CudaSequenceRules::add("output_only", &zero_recurrent_backward) &&
                        CudaOnlineRules::add("output_only", &output_only_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
