// The public C++ API (include/torch_local_rnn/ops.h): typed dispatcher handles, looked up once.
#include "include/torch_local_rnn/ops.h"

#include <ATen/core/dispatch/Dispatcher.h>

namespace torch_local_rnn {
namespace {

template <typename Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

}  // namespace

at::Tensor leaky_rnn(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
                     const at::Tensor& weight_ih, const at::Tensor& bias, double alpha,
                     c10::string_view nonlinearity, c10::string_view rule, c10::ArrayRef<double> rule_options,
                     at::TensorList rule_tensors) {
  static auto op = find_op<decltype(leaky_rnn)>("torch_local_rnn::leaky_rnn");
  return op.call(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity, rule, rule_options, rule_tensors);
}

std::tuple<at::Tensor, at::Tensor> leaky_rnn_forward(const at::Tensor& x, const at::Tensor& h0,
                                                     const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                                     const at::Tensor& bias, double alpha,
                                                     c10::string_view nonlinearity) {
  static auto op = find_op<decltype(leaky_rnn_forward)>("torch_local_rnn::leaky_rnn_forward");
  return op.call(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> leaky_rnn_bptt_backward(
    const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
    const at::Tensor& weight_ih, const at::Tensor& output, const at::Tensor& dphi, double alpha) {
  static auto op = find_op<decltype(leaky_rnn_bptt_backward)>("torch_local_rnn::leaky_rnn_bptt_backward");
  return op.call(grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> leaky_rnn_rflo_backward(
    const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
    const at::Tensor& weight_ih, const at::Tensor& output, const at::Tensor& dphi, double alpha,
    double trace_alpha) {
  static auto op = find_op<decltype(leaky_rnn_rflo_backward)>("torch_local_rnn::leaky_rnn_rflo_backward");
  return op.call(grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha, trace_alpha);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> leaky_rnn_rule_backward(
    const at::Tensor& grad_output, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
    const at::Tensor& weight_ih, const at::Tensor& output, const at::Tensor& dphi, double alpha,
    c10::string_view rule, c10::ArrayRef<double> rule_options, at::TensorList rule_tensors) {
  static auto op = find_op<decltype(leaky_rnn_rule_backward)>("torch_local_rnn::leaky_rnn_rule_backward");
  return op.call(grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha, rule, rule_options, rule_tensors);
}

at::Tensor online_learn(c10::string_view rule, const at::Tensor& x, const at::Tensor& y, at::Tensor& hidden,
                        at::Tensor& weight_hh, at::Tensor& weight_ih, at::Tensor& bias, at::Tensor& weight_out,
                        at::Tensor& bias_out, at::TensorList state, const std::optional<at::Tensor>& rec_grad,
                        const std::optional<at::Tensor>& feedback, double alpha, c10::string_view nonlinearity,
                        c10::string_view loss, double lr, c10::ArrayRef<double> rule_options,
                        at::TensorList rule_tensors, const std::optional<at::Tensor>& record, double l2,
                        c10::string_view optimizer, c10::ArrayRef<double> optimizer_options,
                        const std::optional<at::Tensor>& optimizer_state, int64_t optimizer_steps,
                        const std::optional<at::Tensor>& lr_schedule, const std::optional<at::Tensor>& credit) {
  static auto op = find_op<at::Tensor(c10::string_view, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                      const at::Tensor&, at::TensorList, const std::optional<at::Tensor>&,
                                      const std::optional<at::Tensor>&, double, c10::string_view, c10::string_view,
                                      double, c10::ArrayRef<double>, at::TensorList,
                                      const std::optional<at::Tensor>&, double, c10::string_view,
                                      c10::ArrayRef<double>, const std::optional<at::Tensor>&, int64_t,
                                      const std::optional<at::Tensor>&, const std::optional<at::Tensor>&)>(
      "torch_local_rnn::online_learn");
  return op.call(rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad, feedback,
                 alpha, nonlinearity, loss, lr, rule_options, rule_tensors, record, l2, optimizer, optimizer_options,
                 optimizer_state, optimizer_steps, lr_schedule, credit);
}

at::Tensor online_learn_members(
    c10::string_view rule, const at::Tensor& x, const at::Tensor& y, at::Tensor& hidden, at::Tensor& weight_hh,
    at::Tensor& weight_ih, at::Tensor& bias, at::Tensor& weight_out, at::Tensor& bias_out, at::TensorList state,
    const std::optional<at::Tensor>& rec_grad, const std::optional<at::Tensor>& feedback, c10::ArrayRef<double> alpha,
    c10::string_view nonlinearity, c10::string_view loss, c10::ArrayRef<double> lr, c10::ArrayRef<double> rule_options,
    at::TensorList rule_tensors, const std::optional<at::Tensor>& record, c10::ArrayRef<double> l2,
    c10::string_view optimizer, c10::ArrayRef<double> optimizer_options,
    const std::optional<at::Tensor>& optimizer_state, c10::ArrayRef<int64_t> optimizer_steps,
    const std::optional<at::Tensor>& lr_schedule, const std::optional<at::Tensor>& credit) {
  static auto op = find_op<at::Tensor(c10::string_view, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                      const at::Tensor&, at::TensorList, const std::optional<at::Tensor>&,
                                      const std::optional<at::Tensor>&, c10::ArrayRef<double>, c10::string_view,
                                      c10::string_view, c10::ArrayRef<double>, c10::ArrayRef<double>, at::TensorList,
                                      const std::optional<at::Tensor>&, c10::ArrayRef<double>, c10::string_view,
                                      c10::ArrayRef<double>, const std::optional<at::Tensor>&, c10::ArrayRef<int64_t>,
                                      const std::optional<at::Tensor>&, const std::optional<at::Tensor>&)>(
      "torch_local_rnn::online_learn_members");
  return op.call(rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad, feedback,
                 alpha, nonlinearity, loss, lr, rule_options, rule_tensors, record, l2, optimizer, optimizer_options,
                 optimizer_state, optimizer_steps, lr_schedule, credit);
}

void online_optimizer_step(at::Tensor& weight_hh, at::Tensor& weight_ih, at::Tensor& bias, at::Tensor& weight_out,
                           at::Tensor& bias_out, const at::Tensor& grad, const at::Tensor& grad_out,
                           c10::string_view optimizer, double lr, c10::ArrayRef<double> optimizer_options,
                           const std::optional<at::Tensor>& optimizer_state, int64_t optimizer_steps, double l2) {
  static auto op = find_op<void(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                const at::Tensor&, const at::Tensor&, const at::Tensor&, c10::string_view, double,
                                c10::ArrayRef<double>, const std::optional<at::Tensor>&, int64_t, double)>(
      "torch_local_rnn::online_optimizer_step");
  op.call(weight_hh, weight_ih, bias, weight_out, bias_out, grad, grad_out, optimizer, lr, optimizer_options,
          optimizer_state, optimizer_steps, l2);
}

at::Tensor rflo_online(const at::Tensor& x, const at::Tensor& y, at::Tensor& hidden, at::Tensor& trace,
                       at::Tensor& weight_hh, at::Tensor& weight_ih, at::Tensor& bias, at::Tensor& weight_out,
                       at::Tensor& bias_out, const std::optional<at::Tensor>& feedback, double alpha,
                       double trace_alpha, c10::string_view nonlinearity, c10::string_view loss, double lr,
                       double l2) {
  static auto op = find_op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                      const at::Tensor&, const std::optional<at::Tensor>&, double, double,
                                      c10::string_view, c10::string_view, double, double)>(
      "torch_local_rnn::rflo_online");
  return op.call(x, y, hidden, trace, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                 trace_alpha, nonlinearity, loss, lr, l2);
}

int64_t cuda_version() {
  static auto op = find_op<int64_t()>("torch_local_rnn::cuda_version");
  return op.call();
}

void noise_from_counter(at::Tensor& out, c10::string_view kind, int64_t seed, int64_t offset) {
  static auto op = find_op<decltype(noise_from_counter)>("torch_local_rnn::noise_from_counter");
  op.call(out, kind, seed, offset);
}

at::Tensor noise_reserve(const at::Tensor& seed, at::Tensor& offset, int64_t count, c10::string_view kind) {
  static auto op = c10::Dispatcher::singleton().findSchemaOrThrow("torch_local_rnn::noise_reserve", "")
                       .typed<at::Tensor(const at::Tensor&, at::Tensor&, c10::SymInt, c10::string_view)>();
  return op.call(seed, offset, c10::SymInt(count), kind);
}

}  // namespace torch_local_rnn
