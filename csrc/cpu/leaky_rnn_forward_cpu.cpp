// Leaky-RNN forward on the CPU (docs/algorithms.md §1):
//   h_t = W_hh a_{t-1} + W_ih x_t + b,   a_t = (1 - alpha) a_{t-1} + alpha phi(h_t).
// The input drive of all T steps is one GEMM (ATen RNN's pre_compute_input); each step is then
// one in-place GEMM, ATen's vectorised phi, and one fused pass writing a_t and dphi_t = phi'(h_t).
// Buffers and per-step views are made before the time loop; nothing is allocated inside it.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../common/checks.h"
#include "parallel_cpu.h"

namespace torch_local_rnn {
namespace {

// y = phi(h) computed by ATen's vectorised kernels into `value`.
void activate_out(Nonlinearity f, at::Tensor& value, const at::Tensor& h) {
  switch (f) {
    case Nonlinearity::Tanh: at::tanh_out(value, h); break;
    case Nonlinearity::Relu: at::clamp_min_out(value, h, 0); break;
    default: at::sigmoid_out(value, h); break;
  }
}

// In place: state <- (1 - alpha) prev + alpha y, and value (holding y) <- phi'(h) from y.
template <typename scalar_t>
void leaky_update(Nonlinearity f, scalar_t* state, scalar_t* value, const scalar_t* prev, int64_t count,
                  scalar_t alpha) {
  const scalar_t keep = scalar_t(1) - alpha;
  dispatch_nonlinearity(f, [&](auto F) {
    at::parallel_for(0, count, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) {
        const scalar_t y = value[k];
        state[k] = keep * prev[k] + alpha * y;
        value[k] = derivative_from_value<scalar_t>(decltype(F)::value, y);
      }
    });
  });
}

std::tuple<at::Tensor, at::Tensor> leaky_rnn_forward_cpu(const at::Tensor& x, const at::Tensor& h0,
                                                         const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                                         const at::Tensor& bias, double alpha,
                                                         c10::string_view nonlinearity) {
  constexpr const char* op = "leaky_rnn_forward";
  // These ops are not differentiable themselves: keep the ATen calls inside out of autograd
  // even when called directly with tensors that require grad.
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  check_network_args(op, x, h0, weight_hh, weight_ih, alpha);
  check_bias(op, bias, x, weight_hh.size(0));
  const Nonlinearity f = parse_nonlinearity(std::string(nonlinearity), op);
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), n = weight_hh.size(0);

  at::Tensor output = at::empty({T, B, n}, x.options());
  at::Tensor dphi = at::empty({T, B, n}, x.options());
  at::Tensor drive = output.view({T * B, n});
  at::addmm_out(drive, bias, x.reshape({T * B, I}), weight_ih.t());

  const std::vector<at::Tensor> h = output.unbind(0);  // holds h_t until overwritten by a_t
  std::vector<at::Tensor> value = dphi.unbind(0);      // holds phi(h_t) until overwritten by phi'(h_t)
  const at::Tensor prev0 = h0.contiguous();
  const at::Tensor w_hh_t = weight_hh.t();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    for (int64_t t = 0; t < T; ++t) {
      const at::Tensor& prev = t == 0 ? prev0 : h[t - 1];
      h[t].addmm_(prev, w_hh_t);
      activate_out(f, value[t], h[t]);
      leaky_update<scalar_t>(f, h[t].data_ptr<scalar_t>(), value[t].data_ptr<scalar_t>(),
                             prev.data_ptr<scalar_t>(), B * n, static_cast<scalar_t>(alpha));
    }
  });
  return {output, dphi};
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("leaky_rnn_forward", &leaky_rnn_forward_cpu); }

}  // namespace torch_local_rnn
