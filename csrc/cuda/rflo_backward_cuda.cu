// RFLO over a window with frozen weights on the GPU, in GEMM form (docs/algorithms.md §3.6,
// docs/design.md §3.3 (d)), the CPU version's plan: one launch of the reverse-time filter
// (kernels/rflo_filter.cuh) gives the credits
//   C_t = k phi'(h_t) (.) Lbar_t,  Lbar_t = g_t + (1 - k) Lbar_{t+1},   X_t = alpha phi'(h_t) (.) g_t,
// and the shared GEMMs (common/weight_grads.h) turn them into gradients; no (B, n, m) trace.
// The initial-state gradient is the one-step one: dL/da_0 = (1 - alpha) g_1 + X_1 W_hh.
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../common/checks.h"
#include "../common/sequence_rule.h"
#include "../common/weight_grads.h"
#include "../kernels/rflo_filter.cuh"

namespace torch_local_rnn {
namespace {

// rflo and eprop (k = alpha); the inputs are checked and contiguous (common/rule_backward_impl.h).
BackwardResult rflo_backward_cuda(const SequenceArgs& args) {
  constexpr const char* op = "leaky_rnn_rflo_backward";
  const at::Tensor &x = args.x, &h0 = args.h0, &weight_hh = args.weight_hh, &weight_ih = args.weight_ih,
                   &output = args.output;
  const double alpha = args.alpha, trace_alpha = std::get<RfloOptions>(args.options).trace_alpha;
  const int64_t T = x.size(0), B = x.size(1), n = weight_hh.size(0);
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const at::Tensor &g = args.grad_output, &d = args.dphi;

  at::Tensor credit = at::empty({T, B, n}, x.options());
  at::Tensor input_credit = at::empty({T, B, n}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    kernels::RfloFilterParams<scalar_t> p{};
    p.credit = credit.data_ptr<scalar_t>();
    p.input_credit = input_credit.data_ptr<scalar_t>();
    p.grad = g.data_ptr<scalar_t>();
    p.dphi = d.data_ptr<scalar_t>();
    p.steps = T;
    p.count = B * n;
    p.alpha = static_cast<scalar_t>(alpha);
    p.rate = static_cast<scalar_t>(trace_alpha);
    kernels::launch_rflo_filter(p, stream);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  at::Tensor grad_h0 = at::addmm(g[0], input_credit[0], weight_hh, /*beta=*/1.0 - alpha);
  return make_backward_result(weight_grads_from_credit(credit, input_credit, x, h0, output, weight_ih), grad_h0);
}

const bool registered = CudaSequenceRules::add("rflo", &rflo_backward_cuda) &&
                        CudaSequenceRules::add("eprop", &rflo_backward_cuda);

}  // namespace


}  // namespace torch_local_rnn
