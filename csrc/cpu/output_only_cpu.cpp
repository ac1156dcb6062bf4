// Only_Output_Weights (docs/algorithms.md §3.1): G = 0, only the readout learns. The floor of "no
// recurrent learning" every rule is compared with.
#include <ATen/ATen.h>

#include "../common/sequence_rule.h"
#include "online_step_cpu.h"

namespace torch_local_rnn {
namespace {

struct NoRecurrentLearning {
  template <typename Net, typename Scalar, typename Act>
  void step(const Net&, const Scalar*, const Act&) {}
};

BackwardResult output_only_backward_cpu(const SequenceArgs& a) {
  const int64_t n = a.weight_hh.size(0), I = a.x.size(2);
  return result_from_gradient(a, at::zeros({n, n + I + 1}, a.x.options()));
}

void output_only_online_cpu(const OnlineCall& c) {
  run_online_call(c, [](auto) { return NoRecurrentLearning{}; });
}

const bool registered = CpuSequenceRules::add("output_only", &output_only_backward_cpu) &&
                        CpuOnlineRules::add("output_only", &output_only_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
