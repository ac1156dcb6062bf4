// online_optimizer_step on one backend, shared by cpu/optimizer_step_cpu.cpp and cuda/optimizer_step_cuda.cu:
// the checks and the raw view, then `apply(net, scalars)`, which runs apply_optimizer
// (common/online_optimizer.h) with the backend's execution policy. The same phase online_learn runs after
// every step, so a data-parallel learner that all-reduces the gradients in between steps as one process would.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/core/Tensor.h>

#include <cmath>

#include "checks.h"
#include "online_checks.h"
#include "online_net.h"
#include "optimizer_args.h"

namespace torch_local_rnn {

template <typename Apply>
void online_optimizer_step_impl(const at::Tensor& weight_hh, const at::Tensor& weight_ih, const at::Tensor& bias,
                                const at::Tensor& weight_out, const at::Tensor& bias_out, const at::Tensor& grad,
                                const at::Tensor& grad_out, c10::string_view optimizer, double lr,
                                c10::ArrayRef<double> optimizer_options, const std::optional<at::Tensor>& optimizer_state,
                                int64_t optimizer_steps, double l2, Apply&& apply) {
  constexpr const char* op = "online_optimizer_step";
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  check_floating(weight_hh, op, "weight_hh");
  TORCH_CHECK(weight_hh.dim() == 2 && weight_hh.size(0) == weight_hh.size(1) && weight_hh.size(0) > 0, op,
              ": expected weight_hh to be a square 2-D (hidden_size, hidden_size) tensor, but got shape ",
              shape_str(weight_hh.sizes()));
  TORCH_CHECK(weight_ih.dim() == 2 && weight_out.dim() == 2, op,
              ": expected weight_ih (hidden_size, input_size) and weight_out (output_size, hidden_size), but got "
              "shapes ", shape_str(weight_ih.sizes()), " and ", shape_str(weight_out.sizes()));
  OnlineArgs a{1, 1, weight_hh.size(0), weight_ih.size(1), weight_out.size(0), Nonlinearity::Tanh,
               Loss::CrossEntropy, l2};
  const int64_t n = a.n, m = a.n + a.I + 1;
  check_state(op, weight_hh, weight_hh, {n, n}, "weight_hh", "(hidden_size, hidden_size)");
  check_state(op, weight_ih, weight_hh, {n, a.I}, "weight_ih", "(hidden_size, input_size)");
  check_state(op, bias, weight_hh, {n}, "bias", "(hidden_size,)");
  check_state(op, weight_out, weight_hh, {a.O, n}, "weight_out", "(output_size, hidden_size)");
  check_state(op, bias_out, weight_hh, {a.O}, "bias_out", "(output_size,)");
  check_state(op, grad, weight_hh, {n, m}, "grad", "(hidden_size, hidden_size + input_size + 1)");
  check_state(op, grad_out, weight_hh, {a.O, n + 1}, "grad_out", "(output_size, hidden_size + 1)");
  TORCH_CHECK(lr >= 0.0 && std::isfinite(lr), op, ": expected lr to be a finite number >= 0, but got ", lr);
  TORCH_CHECK(l2 >= 0.0 && std::isfinite(l2), op, ": expected l2 to be a finite number >= 0, but got ", l2);
  const OptimizerCall c = check_optimizer_args(op, optimizer, optimizer_options, optimizer_state, optimizer_steps,
                                               std::nullopt, weight_hh, a);
  TORCH_CHECK(c.kind != Optimizer::None, op, ": expected optimizer to be one of 'sgd', 'momentum', 'adam', "
              "'adamw' (an optimiser that moves the weights), but got 'none'");
  AT_DISPATCH_FLOATING_TYPES(weight_hh.scalar_type(), op, [&] {
    OnlineNet<scalar_t> net{};
    net.n = n;
    net.I = a.I;
    net.O = a.O;
    net.B = 1;
    net.weight_hh = weight_hh.data_ptr<scalar_t>();
    net.weight_ih = weight_ih.data_ptr<scalar_t>();
    net.bias = bias.data_ptr<scalar_t>();
    net.weight_out = weight_out.data_ptr<scalar_t>();
    net.bias_out = bias_out.data_ptr<scalar_t>();
    net.l2 = static_cast<scalar_t>(l2);
    bind_optimizer<scalar_t>(net, c, nullptr);
    net.opt.grad_rec = grad.data_ptr<scalar_t>();  // read only: apply_optimizer never writes the gradients
    net.opt.grad_out = grad_out.data_ptr<scalar_t>();
    apply(net, optimizer_scalars(net.opt, static_cast<scalar_t>(lr), optimizer_steps + 1));
  });
}

}  // namespace torch_local_rnn
