// Exact BPTT on the GPU (docs/algorithms.md §1, §4.3 step 1), the CPU version's plan, given g_t = dL/da_t:
//   delta_t = g_t + J_{t+1}^T delta_{t+1},  J_{t+1}^T v = (1 - alpha) v + W_hh^T (alpha phi'(h_{t+1}) (.) v),
//   C_t = alpha phi'(h_t) (.) delta_t,      weight gradients from C (common/weight_grads.h).
// Per step: one cuBLAS GEMM C_{t+1} W_hh into a preallocated buffer and one fused pointwise
// kernel (kernels/bptt_pointwise.cuh); J is never formed.
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../common/checks.h"
#include "../common/sequence_rule.h"
#include "../common/weight_grads.h"
#include "../kernels/bptt_pointwise.cuh"

namespace torch_local_rnn {
namespace {

// The inputs are checked and contiguous (common/rule_backward_impl.h).
BackwardResult bptt_backward_cuda(const SequenceArgs& a) {
  constexpr const char* op = "leaky_rnn_bptt_backward";
  const at::Tensor &x = a.x, &h0 = a.h0, &weight_hh = a.weight_hh, &weight_ih = a.weight_ih, &output = a.output;
  const double alpha = a.alpha;
  const int64_t T = x.size(0), B = x.size(1), n = weight_hh.size(0);
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const at::Tensor &g = a.grad_output, &d = a.dphi;

  at::Tensor credit = at::empty({T, B, n}, x.options());
  // Zeroed although the last step multiplies it by 0: recycled device memory may hold NaNs.
  at::Tensor delta = at::zeros({B, n}, x.options());
  at::Tensor recurrent = at::zeros({B, n}, x.options());  // C_{t+1} W_hh, zero past the last step
  const std::vector<at::Tensor> c = credit.unbind(0);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    kernels::BpttStepParams<scalar_t> p{};
    p.delta = delta.data_ptr<scalar_t>();
    p.recurrent = recurrent.data_ptr<scalar_t>();
    p.count = B * n;
    p.alpha = static_cast<scalar_t>(alpha);
    for (int64_t t = T - 1; t >= 0; --t) {
      if (t < T - 1) at::mm_out(recurrent, c[t + 1], weight_hh);
      p.credit = c[t].data_ptr<scalar_t>();
      p.grad = g.data_ptr<scalar_t>() + t * B * n;
      p.dphi = d.data_ptr<scalar_t>() + t * B * n;
      p.carry = t < T - 1 ? scalar_t(1) - p.alpha : scalar_t(0);  // delta_T = 0
      kernels::launch_bptt_step(p, stream);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  // dL/da_0 = J_1^T delta_1 = (1 - alpha) delta_1 + C_1 W_hh (0-based: delta[0], c[0]).
  at::Tensor grad_h0 = at::addmm(delta, c[0], weight_hh, /*beta=*/1.0 - alpha);
  return make_backward_result(weight_grads_from_credit(credit, credit, x, h0, output, weight_ih), grad_h0);
}

const bool registered = CudaSequenceRules::add("bptt", &bptt_backward_cuda);

}  // namespace


}  // namespace torch_local_rnn
