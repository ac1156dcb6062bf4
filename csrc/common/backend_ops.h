// The generic ops and their aliases on one backend, written once for both: cpu/backend_ops_cpu.cpp and
// cuda/backend_ops_cuda.cu only name their rule tables, their dispatch key and how online_learn_members runs
// its members (MemberLoop: common/online_learn_members_impl.h). Every rule runs through
// online_learn and leaky_rnn_rule_backward (common/rule_descriptor.h); rflo_online,
// leaky_rnn_bptt_backward and leaky_rnn_rflo_backward are aliases of them that keep their own names in
// the errors.
#pragma once

#include <torch/library.h>

#include "checks.h"
#include "online_learn_impl.h"
#include "online_learn_members_impl.h"
#include "rule_backward_impl.h"

namespace torch_local_rnn {

struct NoDeviceGuard {
  explicit NoDeviceGuard(c10::Device) {}
};

// Guard: constructed from x's device before any work (the CUDA device guard; nothing on the CPU).
template <typename OnlineRules, typename SequenceRules, const char* Backend, typename Guard, typename MemberLoop>
struct BackendOps {
  static at::Tensor online_learn(c10::string_view rule, const at::Tensor& x, const at::Tensor& y,
                                 const at::Tensor& hidden, const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                 const at::Tensor& bias, const at::Tensor& weight_out, const at::Tensor& bias_out,
                                 at::TensorList state, const std::optional<at::Tensor>& rec_grad,
                                 const std::optional<at::Tensor>& feedback, double alpha,
                                 c10::string_view nonlinearity, c10::string_view loss, double lr,
                                 c10::ArrayRef<double> rule_options, at::TensorList rule_tensors,
                                 const std::optional<at::Tensor>& record, double l2, c10::string_view optimizer,
                                 c10::ArrayRef<double> optimizer_options, const std::optional<at::Tensor>& optimizer_state,
                                 int64_t optimizer_steps, const std::optional<at::Tensor>& lr_schedule,
                                 const std::optional<at::Tensor>& credit) {
    const Guard guard(x.device());
    return online_learn_impl<OnlineRules>(
        Backend, "online_learn",
        {rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad, feedback, alpha,
         nonlinearity, loss, lr, rule_options, rule_tensors, record, l2, optimizer, optimizer_options, optimizer_state,
         optimizer_steps, lr_schedule, credit});
  }

  static at::Tensor online_learn_members(
      c10::string_view rule, const at::Tensor& x, const at::Tensor& y, const at::Tensor& hidden,
      const at::Tensor& weight_hh, const at::Tensor& weight_ih, const at::Tensor& bias, const at::Tensor& weight_out,
      const at::Tensor& bias_out, at::TensorList state, const std::optional<at::Tensor>& rec_grad,
      const std::optional<at::Tensor>& feedback, c10::ArrayRef<double> alpha, c10::string_view nonlinearity,
      c10::string_view loss, c10::ArrayRef<double> lr, c10::ArrayRef<double> rule_options,
      at::TensorList rule_tensors, const std::optional<at::Tensor>& record, c10::ArrayRef<double> l2,
      c10::string_view optimizer, c10::ArrayRef<double> optimizer_options,
      const std::optional<at::Tensor>& optimizer_state, c10::ArrayRef<int64_t> optimizer_steps,
      const std::optional<at::Tensor>& lr_schedule, const std::optional<at::Tensor>& credit) {
    const Guard guard(x.device());
    return online_learn_members_impl<OnlineRules, MemberLoop>(
        Backend, {rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad, feedback,
                  alpha, nonlinearity, loss, lr, rule_options, rule_tensors, record, l2, optimizer, optimizer_options,
                  optimizer_state, optimizer_steps, lr_schedule, credit});
  }

  static at::Tensor rflo_online(const at::Tensor& x, const at::Tensor& y, const at::Tensor& hidden,
                                const at::Tensor& trace, const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                const at::Tensor& bias, const at::Tensor& weight_out, const at::Tensor& bias_out,
                                const std::optional<at::Tensor>& feedback, double alpha, double trace_alpha,
                                c10::string_view nonlinearity, c10::string_view loss, double lr, double l2) {
    const Guard guard(x.device());
    // The alias names its argument `trace` in the errors, as before it was one.
    const OnlineArgs a = check_online_args("rflo_online", x, y, hidden, weight_hh, weight_ih, bias, weight_out,
                                           bias_out, feedback, alpha, nonlinearity, loss, lr, l2);
    check_rate(trace_alpha, "rflo_online", "trace_alpha");
    check_state("rflo_online", trace, x, {a.B, a.n, a.n + a.I + 1}, "trace",
                "(batch, hidden_size, hidden_size + input_size + 1)");
    const std::vector<double> options = {trace_alpha};
    const std::optional<at::Tensor> none;
    return online_learn_impl<OnlineRules>(Backend, "rflo_online",
                                          {"rflo", x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out,
                                           trace, none, feedback, alpha, nonlinearity, loss, lr, options, {}, none, l2,
                                           "sgd", {}, none, 0, none, none});
  }

  static BackwardResult rule_backward(const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0,
                                      const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                      const at::Tensor& output, const at::Tensor& dphi, double alpha,
                                      c10::string_view rule, c10::ArrayRef<double> rule_options,
                                      at::TensorList rule_tensors) {
    const Guard guard(x.device());
    return rule_backward_impl<SequenceRules>(Backend, "leaky_rnn_rule_backward", grad_output, x, h0, weight_hh,
                                             weight_ih, output, dphi, alpha, rule, rule_options, rule_tensors);
  }

  static BackwardResult bptt_backward(const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0,
                                      const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                      const at::Tensor& output, const at::Tensor& dphi, double alpha) {
    const Guard guard(x.device());
    return rule_backward_impl<SequenceRules>(Backend, "leaky_rnn_bptt_backward", grad_output, x, h0, weight_hh,
                                             weight_ih, output, dphi, alpha, "bptt", {}, {});
  }

  static BackwardResult rflo_backward(const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0,
                                      const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                      const at::Tensor& output, const at::Tensor& dphi, double alpha,
                                      double trace_alpha) {
    const Guard guard(x.device());
    check_backward_args("leaky_rnn_rflo_backward", grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha);
    check_rate(trace_alpha, "leaky_rnn_rflo_backward", "trace_alpha");
    const std::vector<double> options = {trace_alpha};
    return rule_backward_impl<SequenceRules>(Backend, "leaky_rnn_rflo_backward", grad_output, x, h0, weight_hh,
                                             weight_ih, output, dphi, alpha, "rflo", options, {});
  }

  static void define(torch::Library& m) {
    m.impl("online_learn", &online_learn);
    m.impl("online_learn_members", &online_learn_members);
    m.impl("rflo_online", &rflo_online);
    m.impl("leaky_rnn_rule_backward", &rule_backward);
    m.impl("leaky_rnn_bptt_backward", &bptt_backward);
    m.impl("leaky_rnn_rflo_backward", &rflo_backward);
  }
};

}  // namespace torch_local_rnn
