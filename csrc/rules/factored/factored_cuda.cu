// The factored rules (UORO, KF-RTRL, R-KF-RTRL; docs/algorithms.md §3.3-3.5) on the GPU: the shared step
// (rules/factored/factored_step.h, each rule's pieces in <rule>_step.h): online by the policy of the kernel
// run_online_call picks (cuda/online_cuda.h: one persistent block, or a cooperative grid for large networks),
// the sequence form by the block policy, one block per stream.
#include <ATen/Dispatch.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../../common/gpu_paths.h"
#include "../../cuda/online_cuda.h"
#include "../../kernels/online_step.cuh"
#include "factored_call.h"

namespace torch_local_rnn {
namespace {

using kernels::BlockExec;

// Block b runs stream b into its own partial gradient (the glue sums them).
template <typename T, template <typename, typename> class Rule>
__global__ void __launch_bounds__(kernels::kThreads)
    factored_sequence_kernel(FactoredCtx<T> c, FactoredSequence<T> seq, T* factors, T* work, T* partial, int64_t jcols,
                             int64_t width) {
  const int64_t b = blockIdx.x;
  run_factored_sequence<BlockExec, Rule>(c, factored_stream(c, factors, work, b, jcols, width), seq, b,
                                         partial + b * c.n * c.m);
}

template <template <typename, typename> class Rule, FactoredLayoutFn Layout>
struct CudaFactored {
  // leaky_rnn_rule_backward: one block per stream.
  static BackwardResult backward(const SequenceArgs& a) {
    const int64_t B = a.x.size(1);
    // gridDim.x holds at most 2^31 - 1 (a larger B would not launch, or wrap when cast)
    check_stream_blocks("leaky_rnn_rule_backward", "the factored rules", B, kernels::kMaxGridBlocks);
    const c10::cuda::CUDAGuard guard(a.x.device());
    const FactoredCall f = factored_sequence_call<BlockExec, Rule>(a, Layout, B);
    at::Tensor partial = at::zeros({B, f.n, f.m}, a.x.options());
    AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
      factored_sequence_kernel<scalar_t, Rule>
          <<<static_cast<unsigned int>(B), kernels::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
              factored_sequence_ctx<scalar_t>(a, f), factored_sequence<scalar_t>(a, f),
              f.factors.data_ptr<scalar_t>(), f.work.data_ptr<scalar_t>(), partial.data_ptr<scalar_t>(), f.jcols,
              f.L.noise_width);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    return result_from_gradient(a, at::sum(partial, 0));
  }

  static void online(const OnlineCall& c) {
    const FactoredCall f = factored_online_call<BlockExec, Rule>(c, Layout);
    run_online_call(c, rule_buffers(f), [&](auto zero, auto exec) {
      return factored_online_rule<decltype(exec), Rule, decltype(zero)>(c, f);
    });
  }
};

const bool registered = register_factored_rules<CudaSequenceRules, CudaOnlineRules, CudaFactored>();

}  // namespace
}  // namespace torch_local_rnn
