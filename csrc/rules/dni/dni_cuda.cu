// Online DNI and DNI(b) on the GPU (docs/algorithms.md §3.8, §4): the checks and the step are shared
// (rules/dni/dni_layout.h, rules/dni/dni_step.h), run here by the policy of the kernel run_online_call picks
// (cuda/online_cuda.h: one persistent block, or a cooperative grid for large networks). Online only, so there
// is no CudaSequenceRules entry.
#include "dni_layout.h"
#include "../../cuda/online_cuda.h"

namespace torch_local_rnn {
namespace {

void dni_online_cuda(const OnlineCall& c, const char* rule) {
  const DniCall d = check_dni_call(c, rule);
  const c10::cuda::CUDAGuard guard(c.x.device());
  at::Tensor work;
  run_online_call(c, rule_buffers(d, work), [&](auto zero, auto exec) {
    return make_dni_step<decltype(exec), decltype(zero)>(c, d, work);
  });
}

void dni_cuda(const OnlineCall& c) { dni_online_cuda(c, "dni"); }
void dni_b_cuda(const OnlineCall& c) { dni_online_cuda(c, "dni_b"); }

const bool registered = CudaOnlineRules::add("dni", &dni_cuda) && CudaOnlineRules::add("dni_b", &dni_b_cuda);

}  // namespace
}  // namespace torch_local_rnn
