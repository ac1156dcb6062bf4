// Online RFLO on the GPU: the shared step (rules/rflo/rflo_step.h) run by the policy of the kernel
// run_online_call picks (cuda/online_cuda.h: one persistent block, or a cooperative grid for large networks).
#include "../../cuda/online_cuda.h"
#include "rflo_glue.h"

namespace torch_local_rnn {
namespace {

void rflo_online_cuda(const OnlineCall& c) {
  const at::Tensor scratch = rflo_gradient_scratch(c);
  run_online_call(c, rule_buffers(scratch), [&](auto zero, auto exec) {
    return make_rflo_trace<decltype(exec), decltype(zero)>(c, scratch);
  });
}

const bool registered =
    CudaOnlineRules::add("rflo", &rflo_online_cuda) && CudaOnlineRules::add("eprop", &rflo_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
