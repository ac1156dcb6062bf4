// Online RFLO on the CPU: the shared step (rules/rflo/rflo_step.h) run by the CPU policy.
#include "../../cpu/online_step_cpu.h"
#include "rflo_step.h"

namespace torch_local_rnn {
namespace {

// rflo and eprop: state = [trace (B, n, m)], checked by online_learn (csrc/rules/rflo/descriptor.cpp).
void rflo_online_cpu(const OnlineCall& c) {
  const double rate = std::get<RfloOptions>(c.options).trace_alpha;
  at::Tensor ahat = at::empty({c.args.B, c.args.n + c.args.I + 1}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    return RfloTrace<CpuExec, scalar_t>{c.state[0].data_ptr<scalar_t>(), ahat.data_ptr<scalar_t>(),
                                        static_cast<scalar_t>(rate)};
  });
}

const bool registered = CpuOnlineRules::add("rflo", &rflo_online_cpu) && CpuOnlineRules::add("eprop", &rflo_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
