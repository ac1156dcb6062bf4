// online_learn on the CPU: the common checks, then the rule's kernel from the table.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../common/online_rule.h"
#include "../common/rule_options.h"

namespace torch_local_rnn {
namespace {

at::Tensor online_learn_cpu(c10::string_view rule, const at::Tensor& x, const at::Tensor& y, const at::Tensor& hidden,
                            const at::Tensor& weight_hh, const at::Tensor& weight_ih, const at::Tensor& bias,
                            const at::Tensor& weight_out, const at::Tensor& bias_out, at::TensorList state,
                            const std::optional<at::Tensor>& rec_grad, const std::optional<at::Tensor>& feedback,
                            double alpha, c10::string_view nonlinearity, c10::string_view loss, double lr,
                            c10::ArrayRef<double> rule_options, at::TensorList rule_tensors,
                            const std::optional<at::Tensor>& record) {
  constexpr const char* op = "online_learn";
  // Not differentiable: keep the ATen calls some rules make (BLAS) out of autograd.
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  const OnlineArgs args = check_online_args(op, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out,
                                            feedback, alpha, nonlinearity, loss, lr);
  const std::string name(rule);
  const OnlineRuleFn fn = CpuOnlineRules::get(name, op, "CPU");
  check_local_rule_options(name, rule_options, op);
  check_rule_extras(name, rule_tensors.size(), record.has_value(), op);
  if (rec_grad) check_state(op, *rec_grad, x, {args.n, args.n + args.I + 1}, "rec_grad",
                            "(hidden_size, hidden_size + input_size + 1)");
  const at::Tensor xc = x.contiguous(), yc = y.contiguous();
  const std::optional<at::Tensor> fb = feedback ? std::optional<at::Tensor>(feedback->contiguous()) : std::nullopt;
  at::Tensor losses = at::empty({args.T, args.B}, x.options());
  fn(OnlineCall{args, xc, yc, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad, fb, alpha, lr,
                rule_options, rule_tensors, record, losses});
  return losses;
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("online_learn", &online_learn_cpu); }

}  // namespace torch_local_rnn
