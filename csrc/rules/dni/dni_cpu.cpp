// Online DNI and DNI(b) on the CPU (docs/algorithms.md §3.8, §4): the checks and the step are shared
// (rules/dni/dni_layout.h, rules/dni/dni_step.h), run here under the CPU policy. Online only: U_t reads the
// label y*_t, which the sequence form never sees.
#include "dni_layout.h"
#include "../../cpu/online_step_cpu.h"

namespace torch_local_rnn {
namespace {

void dni_online_cpu(const OnlineCall& c, const char* rule) {
  const DniCall d = check_dni_call(c, rule);
  at::Tensor work;
  run_online_call(c, [&](auto zero, auto exec) {
    return make_dni_step<decltype(exec), decltype(zero)>(c, d, work);
  });
}

void dni_cpu(const OnlineCall& c) { dni_online_cpu(c, "dni"); }
void dni_b_cpu(const OnlineCall& c) { dni_online_cpu(c, "dni_b"); }

const bool registered = CpuOnlineRules::add("dni", &dni_cpu) && CpuOnlineRules::add("dni_b", &dni_b_cpu);

}  // namespace
}  // namespace torch_local_rnn
