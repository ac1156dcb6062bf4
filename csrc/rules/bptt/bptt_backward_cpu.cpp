// Exact BPTT on the CPU (docs/algorithms.md §1, §4.3 step 1): the shared plan (common/exact_sequence.h)
// with this fused pass per step: delta <- g_t + carry delta + C_{t+1} W_hh, C_t = alpha phi'(h_t) delta.
#include <ATen/Dispatch.h>

#include "../../common/exact_sequence.h"
#include "../../cpu/parallel_cpu.h"

namespace torch_local_rnn {
namespace {

BackwardResult bptt_backward_cpu(const SequenceArgs& a) {
  const int64_t Bn = a.x.size(1) * a.weight_hh.size(0);
  return bptt_backward(a, [&](int64_t t, const at::Tensor& credit, at::Tensor& delta, const at::Tensor& recurrent,
                              double carry) {
    AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_bptt_backward", [&] {
      const scalar_t rate = static_cast<scalar_t>(a.alpha), keep = static_cast<scalar_t>(carry);
      scalar_t* dl = delta.data_ptr<scalar_t>();
      const scalar_t* rec = recurrent.data_ptr<scalar_t>();
      const scalar_t* gt = a.grad_output.data_ptr<scalar_t>() + t * Bn;
      const scalar_t* dt = a.dphi.data_ptr<scalar_t>() + t * Bn;
      scalar_t* ct = credit.data_ptr<scalar_t>();
      at::parallel_for(0, Bn, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t k = lo; k < hi; ++k) {
          dl[k] = gt[k] + keep * dl[k] + rec[k];
          ct[k] = rate * dt[k] * dl[k];
        }
      });
    });
  });
}

const bool registered = CpuSequenceRules::add("bptt", &bptt_backward_cpu);

}  // namespace
}  // namespace torch_local_rnn
