// KeRNL on the CPU (docs/algorithms.md §3.7): the checks, the online step and the sequence form are shared
// (rules/kernl/kernl.h, rules/kernl/kernl_step.h); here the online step runs under the CPU policy, and the
// sequence form's reverse-time filter loops the (b, i) rows.
#include <ATen/ATen.h>

#include <algorithm>

#include "kernl.h"
#include "../../cpu/online_step_cpu.h"

namespace torch_local_rnn {
namespace {

void kernl_online_cpu(const OnlineCall& c) {
  const KernlOnlineInputs in = check_kernl_online(c);
  at::Tensor work;
  run_online_call(c, [&](auto zero, auto exec) {
    return make_kernl_step<decltype(exec), decltype(zero)>(c, in, work);
  });
}

BackwardResult kernl_backward_cpu(const SequenceArgs& a) {
  return kernl_backward(a, [&](const at::Tensor& credit, const at::Tensor& k) {
    const int64_t T = credit.size(0), Bn = credit.size(1) * credit.size(2), n = credit.size(2);
    AT_DISPATCH_FLOATING_TYPES(credit.scalar_type(), "leaky_rnn_rule_backward", [&] {
      scalar_t* c = credit.data_ptr<scalar_t>();
      const scalar_t* kp = k.data_ptr<scalar_t>();
      at::parallel_for(0, Bn, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, T)),
                       [&](int64_t lo, int64_t hi) {
                         for (int64_t r = lo; r < hi; ++r) kernl_reverse_filter(c + r, T, Bn, kp[r % n]);
                       });
    });
  });
}

const bool registered = CpuSequenceRules::add("kernl", &kernl_backward_cpu) &&
                        CpuOnlineRules::add("kernl", &kernl_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
