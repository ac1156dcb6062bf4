// The factored rules (UORO, KF-RTRL, R-KF-RTRL; docs/algorithms.md §3.3-3.5) on the CPU: the shared step
// (rules/factored/factored_step.h, each rule's pieces in <rule>_step.h) run by the CPU policy.
#include <ATen/Dispatch.h>
#include <ATen/ops/zeros.h>

#include "../../cpu/online_step_cpu.h"
#include "factored_call.h"

namespace torch_local_rnn {
namespace {

template <template <typename, typename> class Rule, FactoredLayoutFn Layout>
struct CpuFactored {
  // leaky_rnn_rule_backward: the streams one after another through one set of buffers, into one G.
  static BackwardResult backward(const SequenceArgs& a) {
    const FactoredCall f = factored_sequence_call<CpuExec, Rule>(a, Layout, 1);
    at::Tensor gradient = at::zeros({f.n, f.m}, a.x.options());
    AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
      const FactoredCtx<scalar_t> ctx = factored_sequence_ctx<scalar_t>(a, f);
      const FactoredSequence<scalar_t> seq = factored_sequence<scalar_t>(a, f);
      const FactoredStreams<scalar_t> s = factored_stream(ctx, f.factors.data_ptr<scalar_t>(),
                                                          f.work.data_ptr<scalar_t>(), 0, f.jcols, f.L.noise_width);
      for (int64_t b = 0; b < seq.B; ++b) {
        run_factored_sequence<CpuExec, Rule>(ctx, s, seq, b, gradient.data_ptr<scalar_t>());
      }
    });
    return result_from_gradient(a, gradient);
  }

  static void online(const OnlineCall& c) {
    const FactoredCall f = factored_online_call<CpuExec, Rule>(c, Layout);
    run_online_call(c, [&](auto zero, auto exec) {
      return factored_online_rule<decltype(exec), Rule, decltype(zero)>(c, f);
    });
  }
};

const bool registered = register_factored_rules<CpuSequenceRules, CpuOnlineRules, CpuFactored>();

}  // namespace
}  // namespace torch_local_rnn
