// The truncated BPTTs on the GPU (docs/algorithms.md §3.9, §3.10): the shared steps
// (rules/truncated/e_bptt_step.h, f_bptt_step.h). Online: by the policy of the kernel run_online_call picks
// (cuda/online_cuda.h: one persistent block, or a cooperative grid for large networks). Sequence form (the
// block policy): streams are independent, so one block per stream runs the rule's walk with S = 1.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../../common/gpu_paths.h"
#include "../../cuda/online_cuda.h"
#include "../../kernels/online_step.cuh"
#include "e_bptt_step.h"
#include "f_bptt_step.h"
#include "history_state.h"

namespace torch_local_rnn {
namespace {

using kernels::BlockExec;

template <template <typename, typename> class Rule>
void truncated_online_cuda(const OnlineCall& c) {
  using Probe = Rule<BlockExec, float>;
  const int64_t K = check_history_state(c, Probe::kName, Probe::kCountLimit);
  const c10::cuda::CUDAGuard guard(c.x.device());
  const at::Tensor buffers = history_buffers(c);
  run_online_call(c, rule_buffers(buffers), [&](auto zero, auto exec) {
    using scalar_t = decltype(zero);
    using Exec = decltype(exec);
    return Rule<Exec, scalar_t>{make_history<Exec, scalar_t>(c, K, buffers)};
  });
}

// The per-stream work (CreditSteps::work, 3 n values) lives in shared memory up to the 48 KiB every
// launch may use without opting in (always at the papers' sizes), else in a global workspace.
constexpr size_t kStreamSharedBytes = 48 * 1024;

template <typename T>
struct SequenceParams {
  T* credit;           // (steps, B, n): g on entry, c on exit
  T* workspace;        // (B, 3 n): used when the per-stream work exceeds shared memory
  const T* dphi;       // (steps, B, n): phi'(h_t)
  const T* weight_hh;  // (n, n)
  int64_t steps, B, n, K;
  T alpha;
  bool in_shared;
};

template <template <typename, typename> class Rule, typename T>
__global__ void truncated_sequence_kernel(SequenceParams<T> p) {
  extern __shared__ __align__(16) unsigned char truncated_shared[];
  const int64_t b = blockIdx.x, n = p.n;
  T* work = p.in_shared ? reinterpret_cast<T*>(truncated_shared) : p.workspace + b * 3 * n;
  const CreditSteps<BlockExec, T> steps{p.dphi + b * n, p.credit + b * n, 1, n, p.B * n, p.steps, work};
  Rule<BlockExec, T>::sequence(steps, p.weight_hh, p.alpha, p.steps, p.K);
}

// Threads per stream: the work of each phase is n wide, so a whole warp multiple of n (at most
// kThreads) keeps the barriers cheap at the papers' n = 32.
unsigned int stream_block_threads(int64_t n) {
  const int64_t warps = (n + 31) / 32;
  return static_cast<unsigned int>(warps * 32 > kernels::kThreads ? kernels::kThreads : warps * 32);
}

template <template <typename, typename> class Rule>
BackwardResult truncated_backward_cuda(const SequenceArgs& a) {
  const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0);
  // one block per stream: gridDim.x holds at most 2^31 - 1 (a larger B would not launch, or wrap when cast)
  check_stream_blocks("leaky_rnn_rule_backward", (std::string("rule '") + Rule<BlockExec, float>::kName + "'").c_str(), B,
                      kernels::kMaxGridBlocks);
  const c10::cuda::CUDAGuard guard(a.x.device());
  return truncated_backward(a, [&](const at::Tensor& credit, int64_t K) {
    if (T == 0 || B == 0) return;
    const size_t bytes = static_cast<size_t>(3 * n) * a.x.element_size();
    const bool in_shared = bytes <= kStreamSharedBytes;
    const at::Tensor work = at::empty({in_shared ? 0 : B * 3 * n}, a.x.options());
    AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
      const SequenceParams<scalar_t> p{credit.data_ptr<scalar_t>(), work.data_ptr<scalar_t>(),
                                       a.dphi.data_ptr<scalar_t>(), a.weight_hh.data_ptr<scalar_t>(), T, B, n, K,
                                       static_cast<scalar_t>(a.alpha), in_shared};
      truncated_sequence_kernel<Rule, scalar_t><<<static_cast<unsigned int>(B), stream_block_threads(n),
                                                  in_shared ? bytes : 0, c10::cuda::getCurrentCUDAStream()>>>(p);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
}

const bool registered = CudaSequenceRules::add("e_bptt", &truncated_backward_cuda<EBptt>) &&
                        CudaOnlineRules::add("e_bptt", &truncated_online_cuda<EBptt>) &&
                        CudaSequenceRules::add("f_bptt", &truncated_backward_cuda<FBptt>) &&
                        CudaOnlineRules::add("f_bptt", &truncated_online_cuda<FBptt>);

}  // namespace
}  // namespace torch_local_rnn
