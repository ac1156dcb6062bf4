// RFLO and e-prop over a window with frozen weights on the CPU (docs/algorithms.md §3.6): the shared GEMM
// form (common/exact_sequence.h) with this reverse-time filter, each (b, i) independent:
//   Lbar_t = g_t + (1 - k) Lbar_{t+1},  C_t = k phi'(h_t) (.) Lbar_t,  X_t = alpha phi'(h_t) (.) g_t.
#include <ATen/Dispatch.h>

#include "../../common/exact_sequence.h"
#include "../../cpu/parallel_cpu.h"

namespace torch_local_rnn {
namespace {

BackwardResult rflo_backward_cpu(const SequenceArgs& args) {
  const int64_t T = args.x.size(0), N = args.x.size(1) * args.weight_hh.size(0);
  return rflo_backward(args, [&](at::Tensor& credit, at::Tensor& input_credit, double trace_alpha) {
    at::Tensor filtered = at::zeros({N}, args.x.options());  // Lbar, one scalar per (b, i)
    AT_DISPATCH_FLOATING_TYPES(args.x.scalar_type(), "leaky_rnn_rflo_backward", [&] {
      const scalar_t a = static_cast<scalar_t>(args.alpha), k = static_cast<scalar_t>(trace_alpha), decay = 1 - k;
      const scalar_t *gp = args.grad_output.data_ptr<scalar_t>(), *dp = args.dphi.data_ptr<scalar_t>();
      scalar_t *cp = credit.data_ptr<scalar_t>(), *xp = input_credit.data_ptr<scalar_t>();
      scalar_t* lbar = filtered.data_ptr<scalar_t>();
      // Parallel over (b, i), time reversed inside each chunk.
      at::parallel_for(0, N, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t t = T - 1; t >= 0; --t) {
          const int64_t o = t * N;
          for (int64_t e = lo; e < hi; ++e) {
            lbar[e] = gp[o + e] + decay * lbar[e];
            cp[o + e] = k * dp[o + e] * lbar[e];
            xp[o + e] = a * dp[o + e] * gp[o + e];
          }
        }
      });
    });
  });
}

const bool registered =
    CpuSequenceRules::add("rflo", &rflo_backward_cpu) && CpuSequenceRules::add("eprop", &rflo_backward_cpu);

}  // namespace
}  // namespace torch_local_rnn
