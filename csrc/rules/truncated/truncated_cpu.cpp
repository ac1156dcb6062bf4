// The truncated BPTTs on the CPU (docs/algorithms.md §3.9, §3.10): the shared steps
// (rules/truncated/e_bptt_step.h, f_bptt_step.h) run by the CPU policy, all streams in one call.
#include <ATen/Dispatch.h>

#include <algorithm>

#include "../../cpu/online_step_cpu.h"
#include "e_bptt_step.h"
#include "f_bptt_step.h"
#include "history_state.h"

namespace torch_local_rnn {
namespace {

template <template <typename, typename> class Rule>
void truncated_online_cpu(const OnlineCall& c) {
  using Probe = Rule<CpuExec, float>;
  const int64_t K = check_history_state(c, Probe::kName, Probe::kCountLimit);
  const at::Tensor buffers = history_buffers(c);
  run_online_call(c, [&](auto zero, auto exec) {
    using scalar_t = decltype(zero);
    using Exec = decltype(exec);
    return Rule<Exec, scalar_t>{make_history<Exec, scalar_t>(c, K, buffers)};
  });
}

template <template <typename, typename> class Rule>
BackwardResult truncated_backward_cpu(const SequenceArgs& a) {
  return truncated_backward(a, [&](const at::Tensor& credit, int64_t K) {
    const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0);
    const at::Tensor work = at::empty({3 * B * n}, a.x.options());
    AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
      const CreditSteps<CpuExec, scalar_t> steps{a.dphi.data_ptr<scalar_t>(), credit.data_ptr<scalar_t>(), B, n,
                                                 B * n, std::max<int64_t>(T, 1), work.data_ptr<scalar_t>()};
      Rule<CpuExec, scalar_t>::sequence(steps, a.weight_hh.data_ptr<scalar_t>(), static_cast<scalar_t>(a.alpha), T,
                                        K);
    });
  });
}

const bool registered = CpuSequenceRules::add("e_bptt", &truncated_backward_cpu<EBptt>) &&
                        CpuOnlineRules::add("e_bptt", &truncated_online_cpu<EBptt>) &&
                        CpuSequenceRules::add("f_bptt", &truncated_backward_cpu<FBptt>) &&
                        CpuOnlineRules::add("f_bptt", &truncated_online_cpu<FBptt>);

}  // namespace
}  // namespace torch_local_rnn
