// Exact BPTT on the GPU (docs/algorithms.md §1, §4.3 step 1): the adjoint recursion in one launch of a persistent
// sequence kernel (the cell rules/bptt/bptt_persistent.cuh, docs/design.md §3.6: a warp per stream up to 32 units,
// else W_hh's tiles on chip where they fit at once), else the shared stepwise plan (common/exact_sequence.h): its
// per-step GEMM on cuBLAS and one fused pointwise kernel per step (rules/bptt/bptt_pointwise.cuh). The gradients
// from the credit are shared.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <ATen/ops/empty.h>

#include "../../common/exact_sequence.h"
#include "../../cuda/persistent_sequence.h"
#include "bptt_persistent.cuh"
#include "bptt_pointwise.cuh"

namespace torch_local_rnn {
namespace {

BackwardResult bptt_backward_cuda(const SequenceArgs& a) {
  const c10::cuda::CUDAGuard guard(a.x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0), Bn = B * n;
  at::Tensor credit = at::empty({T, B, n}, a.x.options());
  at::Tensor delta = at::empty({B, n}, a.x.options());
  constexpr const char* op = "leaky_rnn_bptt_backward";
  const SequencePath path = sequence_path(op);
  const PersistentKernel kernel = persistent_kernel(op);
  const char* why_not = nullptr;
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), op, [&] {
    const kernels::BpttAdjointCell<scalar_t> cell{credit.data_ptr<scalar_t>(), a.grad_output.data_ptr<scalar_t>(),
                                                  a.dphi.data_ptr<scalar_t>(), Bn, static_cast<int>(T),
                                                  static_cast<scalar_t>(a.alpha)};
    why_not = run_persistent_sequence<scalar_t>(path, kernel, a.weight_hh, true, B, T, cell,
                                                delta.data_ptr<scalar_t>(), stream);
  });
  if (persistent_ran(op, path, why_not, n, B, T)) return bptt_result(a, credit, delta);
  return bptt_backward(a, [&](int64_t t, const at::Tensor& credit, at::Tensor& delta, const at::Tensor& recurrent,
                              double carry) {
    AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_bptt_backward", [&] {
      kernels::BpttStepParams<scalar_t> p{};
      p.delta = delta.data_ptr<scalar_t>();
      p.recurrent = recurrent.data_ptr<scalar_t>();
      p.count = Bn;
      p.alpha = static_cast<scalar_t>(a.alpha);
      p.credit = credit.data_ptr<scalar_t>();
      p.grad = a.grad_output.data_ptr<scalar_t>() + t * Bn;
      p.dphi = a.dphi.data_ptr<scalar_t>() + t * Bn;
      p.carry = static_cast<scalar_t>(carry);
      kernels::launch_bptt_step(p, stream);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
}

const bool registered = CudaSequenceRules::add("bptt", &bptt_backward_cuda);

}  // namespace
}  // namespace torch_local_rnn
