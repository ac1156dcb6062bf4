// Online RFLO on the GPU: the shared step (rules/rflo/rflo_step.h) run by the block policy inside the
// persistent single-block kernel (kernels/online_step.cuh says why one block).
#include "../../cuda/online_cuda.h"
#include "../../kernels/online_step.cuh"
#include "rflo_glue.h"

namespace torch_local_rnn {
namespace {

void rflo_online_cuda(const OnlineCall& c) {
  const at::Tensor scratch = rflo_gradient_scratch(c);
  run_online_call(c, [&](auto zero) { return make_rflo_trace<kernels::BlockExec, decltype(zero)>(c, scratch); });
}

const bool registered =
    CudaOnlineRules::add("rflo", &rflo_online_cuda) && CudaOnlineRules::add("eprop", &rflo_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
