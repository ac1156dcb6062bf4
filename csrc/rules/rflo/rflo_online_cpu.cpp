// Online RFLO on the CPU: the shared step (rules/rflo/rflo_step.h) run by the CPU policy.
#include "../../cpu/online_step_cpu.h"
#include "rflo_glue.h"

namespace torch_local_rnn {
namespace {

void rflo_online_cpu(const OnlineCall& c) {
  const at::Tensor scratch = rflo_gradient_scratch(c);
  run_online_call(c, [&](auto zero, auto exec) {
    return make_rflo_trace<decltype(exec), decltype(zero)>(c, scratch);
  });
}

const bool registered = CpuOnlineRules::add("rflo", &rflo_online_cpu) && CpuOnlineRules::add("eprop", &rflo_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
