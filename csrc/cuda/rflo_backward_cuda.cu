// RFLO over a window with frozen weights on the GPU, in GEMM form (algorithms.md §3.6,
// engineering.md §3.3d), the CPU version's plan: one launch of the reverse-time filter
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
#include <torch/library.h>

#include "../common/checks.h"
#include "../common/weight_grads.h"
#include "../kernels/rflo_filter.cuh"

namespace torch_local_rnn {
namespace {

BackwardResult leaky_rnn_rflo_backward_cuda(const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0,
                                            const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                            const at::Tensor& output, const at::Tensor& dphi, double alpha,
                                            double trace_alpha) {
  constexpr const char* op = "leaky_rnn_rflo_backward";
  check_backward_args(op, grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha);
  check_rate(trace_alpha, op, "trace_alpha");
  const int64_t T = x.size(0), B = x.size(1), n = weight_hh.size(0);
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const at::Tensor g = grad_output.contiguous(), d = dphi.contiguous();

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

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CUDA, m) { m.impl("leaky_rnn_rflo_backward", &leaky_rnn_rflo_backward_cuda); }

}  // namespace torch_local_rnn
