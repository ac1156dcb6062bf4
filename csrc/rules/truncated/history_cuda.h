// The glue shared by the truncated BPTTs on the GPU (f_bptt, e_bptt; mirror of rules/truncated/history_cpu.h).
// Online: the shared state checks (rules/truncated/history_checks.h), the per-call scratch,
// then the persistent online kernel with Rule<scalar_t>{kernels::History<scalar_t>}
// (rules/truncated/history.cuh). The ring buffers and the count are the caller's state tensors, updated
// in place on the device.
#pragma once

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>

#include <string>

#include "history_checks.h"
#include "../../common/rule_options.h"
#include "../../common/sequence_rule.h"
#include "history.cuh"
#include "../../cuda/online_cuda.h"

namespace torch_local_rnn {

template <template <typename> class Rule>
void run_history_rule_cuda(const OnlineCall& c, const std::string& rule, int64_t count_limit) {
  const int64_t K = check_history_state(c, rule, count_limit);
  const int64_t B = c.args.B, n = c.args.n, m = n + c.args.I + 1;
  const c10::cuda::CUDAGuard guard(c.x.device());
  at::Tensor scratch = at::empty({3 * B * n + n * m}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    scalar_t* s = scratch.data_ptr<scalar_t>();
    return Rule<scalar_t>{kernels::History<scalar_t>{
        K, c.state[0].data_ptr<scalar_t>(), c.state[1].data_ptr<scalar_t>(), c.state[2].data_ptr<scalar_t>(),
        c.state[3].data_ptr<scalar_t>(), s, s + B * n, s + 2 * B * n, s + 3 * B * n, rec_grad_ptr<scalar_t>(c),
        static_cast<scalar_t>(immediate_alpha(c.options, c.alpha))}};
  });
}

// The sequence form of both truncated BPTTs: the rule's reverse-time credit kernel (one block per
// stream, kernel_for(scalar_t{}) gives it) over the whole sequence, then the shared GEMMs turn
// C_t = alpha phi'(h_t) (.) c_t into gradients (alpha = 1 with legacy_alpha_omission, §2.6).
// `accumulate`: the kernel adds into a zeroed credit instead of writing it.
template <typename KernelFor>
BackwardResult truncated_backward_cuda(const SequenceArgs& a, const char* rule, int64_t vectors,
                                       bool accumulate, KernelFor&& kernel_for) {
  const int64_t K = std::get<TruncatedOptions>(a.options).length;
  const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0);
  // one block per stream: gridDim.x holds at most 2^31 - 1 (a larger B would not launch, or wrap when cast)
  TORCH_CHECK(B <= kernels::kMaxGridBlocks, "leaky_rnn_rule_backward: the CUDA kernel of rule '", rule,
              "' runs one block per stream, at most ", kernels::kMaxGridBlocks, " streams, but got batch = ", B);
  const c10::cuda::CUDAGuard guard(a.x.device());
  at::Tensor credit = accumulate ? at::zeros({T, B, n}, a.x.options()) : at::empty({T, B, n}, a.x.options());
  at::Tensor work = at::empty({B * vectors * n}, a.x.options());
  if (T > 0 && B > 0) {
    AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
      kernels::TruncatedCreditParams<scalar_t> p{credit.data_ptr<scalar_t>(), work.data_ptr<scalar_t>(),
                                                 a.grad_output.data_ptr<scalar_t>(), a.dphi.data_ptr<scalar_t>(),
                                                 a.weight_hh.data_ptr<scalar_t>(), T, B, n, K,
                                                 static_cast<scalar_t>(a.alpha), false};
      kernels::launch_truncated_credit(kernel_for(scalar_t{}), vectors, p, c10::cuda::getCurrentCUDAStream());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  return result_from_credit(a, immediate_alpha(a.options, a.alpha) * a.dphi * credit);
}

}  // namespace torch_local_rnn
