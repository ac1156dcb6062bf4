// Only_Output_Weights on the GPU (docs/algorithms.md §3.1, mirror of cpu/output_only_cpu.cpp): G = 0,
// only the readout learns.
#include <ATen/ops/zeros.h>

#include "../common/sequence_rule.h"
#include "online_cuda.h"

namespace torch_local_rnn {
namespace {

struct NoRecurrentLearning {
  template <typename Net, typename Scalar, typename Act>
  __device__ void step(const Net&, const Scalar*, const Act&) const {}
};

BackwardResult output_only_backward_cuda(const SequenceArgs& a) {
  const int64_t n = a.weight_hh.size(0), I = a.x.size(2);
  return result_from_gradient(a, at::zeros({n, n + I + 1}, a.x.options()));
}

void output_only_online_cuda(const OnlineCall& c) {
  run_online_call(c, [](auto) { return NoRecurrentLearning{}; });
}

const bool registered = CudaSequenceRules::add("output_only", &output_only_backward_cuda) &&
                        CudaOnlineRules::add("output_only", &output_only_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
