// Online RFLO on the GPU (algorithms.md §3.6, order of §2.1): the checks and buffers of the
// CPU version, then the shared persistent single-block kernel with RFLO's trace phase
// (kernels/rflo_online.cuh; kernels/online_step.cuh says why one block).
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.
#include <torch/library.h>

#include "../kernels/rflo_online.cuh"
#include "online_cuda.h"

namespace torch_local_rnn {
namespace {

at::Tensor rflo_online_cuda(const at::Tensor& x, const at::Tensor& y, const at::Tensor& hidden,
                            const at::Tensor& trace, const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                            const at::Tensor& bias, const at::Tensor& weight_out, const at::Tensor& bias_out,
                            const std::optional<at::Tensor>& feedback, double alpha, double trace_alpha,
                            c10::string_view nonlinearity, c10::string_view loss, double lr, double l2) {
  constexpr const char* op = "rflo_online";
  const OnlineArgs args = check_online_args(op, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out,
                                            feedback, alpha, nonlinearity, loss, lr, l2);
  check_rate(trace_alpha, op, "trace_alpha");
  check_state(op, trace, x, {args.B, args.n, args.n + args.I + 1}, "trace",
              "(batch, hidden_size, hidden_size + input_size + 1)");
  at::Tensor losses = at::empty({args.T, args.B}, x.options());
  const at::Tensor xc = x.contiguous(), yc = y.contiguous();
  const std::optional<at::Tensor> fb = feedback ? std::optional<at::Tensor>(feedback->contiguous()) : std::nullopt;
  const std::optional<at::Tensor> no_rec_grad;
  run_online_call(OnlineCall{args, xc, yc, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, {}, no_rec_grad,
                             fb, alpha, lr, {}, {}, no_rec_grad, losses},
                  [&](auto zero) {
                    using scalar_t = decltype(zero);
                    return kernels::RfloTrace<scalar_t>{trace.data_ptr<scalar_t>(), static_cast<scalar_t>(trace_alpha)};
                  });
  return losses;
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CUDA, m) { m.impl("rflo_online", &rflo_online_cuda); }

}  // namespace torch_local_rnn
