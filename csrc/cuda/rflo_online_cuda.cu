// Online RFLO on the GPU (algorithms.md §3.6, order of §2.1): the checks and buffers of the
// CPU version, then the whole T-step loop as one persistent single-block kernel
// (kernels/rflo_online.cuh; kernels/online_step.cuh says why one block).
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../common/online_checks.h"
#include "../kernels/rflo_online.cuh"

namespace torch_local_rnn {
namespace {

at::Tensor rflo_online_cuda(const at::Tensor& x, const at::Tensor& y, const at::Tensor& hidden,
                            const at::Tensor& trace, const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                            const at::Tensor& bias, const at::Tensor& weight_out, const at::Tensor& bias_out,
                            const std::optional<at::Tensor>& feedback, double alpha, double trace_alpha,
                            c10::string_view nonlinearity, c10::string_view loss, double lr) {
  constexpr const char* op = "rflo_online";
  const OnlineArgs args = check_online_args(op, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out,
                                            feedback, alpha, nonlinearity, loss, lr);
  check_rate(trace_alpha, op, "trace_alpha");
  check_state(op, trace, x, {args.B, args.n, args.n + args.I + 1}, "trace",
              "(batch, hidden_size, hidden_size + input_size + 1)");
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();

  at::Tensor losses = at::empty({args.T, args.B}, x.options());
  at::Tensor workspace = at::empty({kernels::online_activity_numel(args.B, args.n, args.O)}, x.options());
  const at::Tensor xc = x.contiguous(), yc = y.contiguous();
  const at::Tensor fb = feedback ? feedback->contiguous() : weight_out;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    kernels::RfloOnlineParams<scalar_t> p{};
    p.net = {args.B, args.n, args.I, args.O,
             weight_hh.data_ptr<scalar_t>(), weight_ih.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(),
             weight_out.data_ptr<scalar_t>(), bias_out.data_ptr<scalar_t>(), fb.data_ptr<scalar_t>(),
             static_cast<scalar_t>(alpha), static_cast<scalar_t>(lr), args.f, args.loss};
    p.x = xc.data_ptr<scalar_t>();
    p.y = yc.data_ptr<scalar_t>();
    p.hidden = hidden.data_ptr<scalar_t>();
    p.trace = trace.data_ptr<scalar_t>();
    p.losses = losses.data_ptr<scalar_t>();
    p.workspace = workspace.data_ptr<scalar_t>();
    p.steps = args.T;
    p.rate = static_cast<scalar_t>(trace_alpha);
    kernels::launch_rflo_online(p, stream);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return losses;
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CUDA, m) { m.impl("rflo_online", &rflo_online_cuda); }

}  // namespace torch_local_rnn
