// Public C++ API of torch_local_rnn for LibTorch users. Every function calls its op through
// the dispatcher, so C++ callers get device dispatch and autograd exactly as Python does.
// Shapes: x (T, B, I), h0 (B, n), weight_hh (n, n), weight_ih (n, I), bias (n); outputs (T, B, n).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/string_view.h>

#include <optional>
#include <tuple>

namespace torch_local_rnn {

// States a_1..a_T; differentiable: the backward is the rule's ("bptt" exact, "rflo" RFLO with
// rule_options = [trace_alpha] or [] for trace_alpha = alpha; any rule with a sequence form,
// rule_tensors holding its read-only inputs such as noise draws).
at::Tensor leaky_rnn(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
                     const at::Tensor& weight_ih, const at::Tensor& bias, double alpha,
                     c10::string_view nonlinearity = "tanh", c10::string_view rule = "bptt",
                     c10::ArrayRef<double> rule_options = {}, at::TensorList rule_tensors = {});

// (output, dphi): states and phi'(h_t), not differentiable.
std::tuple<at::Tensor, at::Tensor> leaky_rnn_forward(const at::Tensor& x, const at::Tensor& h0,
                                                     const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                                     const at::Tensor& bias, double alpha,
                                                     c10::string_view nonlinearity = "tanh");

// (grad_x, grad_h0, grad_weight_hh, grad_weight_ih, grad_bias) from grad_output = dL/da_t.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> leaky_rnn_bptt_backward(
    const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
    const at::Tensor& weight_ih, const at::Tensor& output, const at::Tensor& dphi, double alpha);

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> leaky_rnn_rflo_backward(
    const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
    const at::Tensor& weight_ih, const at::Tensor& output, const at::Tensor& dphi, double alpha,
    double trace_alpha);

// Sequence form of the other local rules (output_only, rtrl, f_bptt, e_bptt, uoro, kf_rtrl,
// rkf_rtrl, kernl; options and rule_tensors per rule in README's API table).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> leaky_rnn_rule_backward(
    const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
    const at::Tensor& weight_ih, const at::Tensor& output, const at::Tensor& dphi, double alpha,
    c10::string_view rule, c10::ArrayRef<double> rule_options, at::TensorList rule_tensors = {});

// T online steps of `rule`, its carried tensors in `state`; like rflo_online. rec_grad, when
// given, accumulates every step's recurrent update direction; rule_tensors are the rule's per-step
// inputs (noise draws); record, for dni / dni_b, receives the apical potentials and targets; l2 adds
// l2 W to the gradients of W_hh, W_ih and W_out every step; optimizer, optimizer_options, optimizer_state and
// optimizer_steps choose the optimiser applied after every step (sgd: the papers'), lr_schedule (T,) the
// learning rate of each step (docs/algorithms.md §2.7).
at::Tensor online_learn(c10::string_view rule, const at::Tensor& x, const at::Tensor& y, at::Tensor& hidden,
                        at::Tensor& weight_hh, at::Tensor& weight_ih, at::Tensor& bias, at::Tensor& weight_out,
                        at::Tensor& bias_out, at::TensorList state, const std::optional<at::Tensor>& rec_grad,
                        const std::optional<at::Tensor>& feedback, double alpha, c10::string_view nonlinearity,
                        c10::string_view loss, double lr, c10::ArrayRef<double> rule_options,
                        at::TensorList rule_tensors = {}, const std::optional<at::Tensor>& record = std::nullopt,
                        double l2 = 0.0, c10::string_view optimizer = "sgd",
                        c10::ArrayRef<double> optimizer_options = {}, const std::optional<at::Tensor>& optimizer_state = std::nullopt,
                        int64_t optimizer_steps = 0, const std::optional<at::Tensor>& lr_schedule = std::nullopt,
                        const std::optional<at::Tensor>& credit = std::nullopt);

// online_learn of E members in one call (docs/algorithms.md §2.10): every per-member tensor stacked on a
// leading member dimension, x and y (T, B, .) shared or (T, E, B, .), the per-member scalars as lists (alpha:
// E values; lr, l2, optimizer_steps: E values, l2 and optimizer_steps empty for zeros; rule_options and
// optimizer_options: E k values, member-major). Returns the losses (T, E, B).
at::Tensor online_learn_members(
    c10::string_view rule, const at::Tensor& x, const at::Tensor& y, at::Tensor& hidden, at::Tensor& weight_hh,
    at::Tensor& weight_ih, at::Tensor& bias, at::Tensor& weight_out, at::Tensor& bias_out, at::TensorList state,
    const std::optional<at::Tensor>& rec_grad, const std::optional<at::Tensor>& feedback, c10::ArrayRef<double> alpha,
    c10::string_view nonlinearity, c10::string_view loss, c10::ArrayRef<double> lr, c10::ArrayRef<double> rule_options,
    at::TensorList rule_tensors = {}, const std::optional<at::Tensor>& record = std::nullopt,
    c10::ArrayRef<double> l2 = {}, c10::string_view optimizer = "sgd", c10::ArrayRef<double> optimizer_options = {},
    const std::optional<at::Tensor>& optimizer_state = std::nullopt, c10::ArrayRef<int64_t> optimizer_steps = {},
    const std::optional<at::Tensor>& lr_schedule = std::nullopt, const std::optional<at::Tensor>& credit = std::nullopt);

// One optimiser step of the weights from given gradients (grad (n, n + I + 1), grad_out (O, n + 1)), step
// number optimizer_steps + 1: what online_learn applies after each step, for callers that reduce the
// gradients in between (online_learn's optimiser arguments; "none" is refused).
void online_optimizer_step(at::Tensor& weight_hh, at::Tensor& weight_ih, at::Tensor& bias, at::Tensor& weight_out,
                           at::Tensor& bias_out, const at::Tensor& grad, const at::Tensor& grad_out,
                           c10::string_view optimizer, double lr, c10::ArrayRef<double> optimizer_options,
                           const std::optional<at::Tensor>& optimizer_state, int64_t optimizer_steps, double l2 = 0.0);

// T online RFLO steps; updates hidden, trace and all weights in place; returns losses (T, B).
at::Tensor rflo_online(const at::Tensor& x, const at::Tensor& y, at::Tensor& hidden, at::Tensor& trace,
                       at::Tensor& weight_hh, at::Tensor& weight_ih, at::Tensor& bias, at::Tensor& weight_out,
                       at::Tensor& bias_out, const std::optional<at::Tensor>& feedback, double alpha,
                       double trace_alpha, c10::string_view nonlinearity, c10::string_view loss, double lr,
                       double l2 = 0.0);

// -1 for a CPU-only build, else the CUDA runtime version it was compiled with.
int64_t cuda_version();

// The stochastic rules' noise (docs/algorithms.md §2.5): fills `out` with draw(kind, seed, offset + i), and
// reserves `count` draws of a noise offset atomically, returning the noise counter [seed, offset, kind].
void noise_from_counter(at::Tensor& out, c10::string_view kind, int64_t seed, int64_t offset);
at::Tensor noise_reserve(const at::Tensor& seed, at::Tensor& offset, int64_t count, c10::string_view kind);

}  // namespace torch_local_rnn
