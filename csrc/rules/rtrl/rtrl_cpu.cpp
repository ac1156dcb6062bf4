// RTRL on the CPU: the shared step (rules/rtrl/rtrl_step.h) run by the CPU policy, online and in
// sequence form (the streams one after another into one G).
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>

#include "../../cpu/online_step_cpu.h"
#include "rtrl_glue.h"

namespace torch_local_rnn {
namespace {

BackwardResult rtrl_backward_cpu(const SequenceArgs& a) {
  const int64_t B = a.x.size(1), n = a.weight_hh.size(0), m = n + a.x.size(2) + 1, size = n * n * m;
  at::Tensor gradient = at::zeros({n, m}, a.x.options());
  at::Tensor work = at::empty({2 * size + m}, a.x.options());  // M, tmp (n, n*m), ahat (m)
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
    const RtrlSequence<scalar_t> s = make_rtrl_sequence<scalar_t>(a);
    scalar_t* w = work.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      rtrl_sequence_stream<CpuExec>(s, b, w, w + size, w + 2 * size, gradient.data_ptr<scalar_t>());
    }
  });
  return result_from_gradient(a, gradient);
}

void rtrl_online_cpu(const OnlineCall& c) {
  at::Tensor scratch = at::empty({rtrl_online_scratch_numel(c.args)}, c.x.options());
  run_online_call(c, [&](auto zero, auto exec) {
    using scalar_t = decltype(zero);
    return make_rtrl_influence<decltype(exec)>(c, scratch.data_ptr<scalar_t>());
  });
}

const bool registered = CpuSequenceRules::add("rtrl", &rtrl_backward_cpu) &&
                        CpuOnlineRules::add("rtrl", &rtrl_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
