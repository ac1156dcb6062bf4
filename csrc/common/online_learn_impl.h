// online_learn on one backend, shared by cpu/online_learn_cpu.cpp and cuda/online_learn_cuda.cu:
// the common checks, then the rule's kernel from the backend's table `Rules`. `op` is the name the
// errors give: online_learn, or the alias rflo_online.
#pragma once

#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <optional>
#include <string>

#include "online_rule.h"
#include "optimizer_args.h"
#include "rule_descriptor.h"

namespace torch_local_rnn {

template <typename Rules>
at::Tensor online_learn_impl(const char* backend, const char* op, c10::string_view rule, const at::Tensor& x, const at::Tensor& y,
                             const at::Tensor& hidden, const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                             const at::Tensor& bias, const at::Tensor& weight_out, const at::Tensor& bias_out,
                             at::TensorList state, const std::optional<at::Tensor>& rec_grad,
                             const std::optional<at::Tensor>& feedback, double alpha, c10::string_view nonlinearity,
                             c10::string_view loss, double lr, c10::ArrayRef<double> rule_options,
                             at::TensorList rule_tensors, const std::optional<at::Tensor>& record, double l2,
                             c10::string_view optimizer, c10::ArrayRef<double> optimizer_options,
                             const std::optional<at::Tensor>& optimizer_state, int64_t optimizer_steps,
                             const std::optional<at::Tensor>& lr_schedule, const std::optional<at::Tensor>& credit) {
  // Not differentiable: keep the ATen calls some rules make (BLAS) out of autograd.
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  const OnlineArgs args = check_online_args(op, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out,
                                            feedback, alpha, nonlinearity, loss, lr, l2);
  // The rule, its options parsed once (into the typed struct the kernel reads) and its state checked
  // against the shapes its descriptor declares, before anything is written.
  const RuleDescriptor& descriptor = find_rule(rule, op);
  const RuleOptions options = parse_rule_options(descriptor, rule_options, alpha, RuleForm::Online, op);
  check_rule_tensors(descriptor, rule_tensors, op);
  TORCH_CHECK(!record || descriptor.records, op, ": only rules 'dni' and 'dni_b' record per-step signals, but got ",
              "record for rule '", descriptor.name, "'");
  const OnlineRuleFn fn = Rules::get(descriptor.name, op, backend);
  check_rule_state(descriptor, options, {args.B, args.n, args.I, args.O}, state, x, op);
  const OptimizerCall optimization = check_optimizer_args(op, optimizer, optimizer_options, optimizer_state,
                                                         optimizer_steps, lr_schedule, x, args);
  if (rec_grad) check_state(op, *rec_grad, x, {args.n, args.n + args.I + 1}, "rec_grad",
                            "(hidden_size, hidden_size + input_size + 1)");
  std::optional<at::Tensor> credit_c;
  if (credit) {  // the credit mode (docs/algorithms.md §2.8)
    check_like(*credit, x, op, "credit", "x");
    check_shape(*credit, {args.T, args.B, args.n}, op, "credit", "(seq_len, batch, hidden_size)");
    TORCH_CHECK(!record, op, ": record is not available in the credit mode (the rule's signals follow from the "
                "fused readout), but got both credit and record");
    credit_c = credit->contiguous();
  }
  const at::Tensor xc = x.contiguous(), yc = y.contiguous();
  const std::optional<at::Tensor> fb = feedback ? std::optional<at::Tensor>(feedback->contiguous()) : std::nullopt;
  at::Tensor losses = at::empty({args.T, args.B}, x.options());
  fn(OnlineCall{args, xc, yc, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad, fb, alpha, lr,
                options, rule_tensors, record, losses, optimization, credit_c});
  return losses;
}

}  // namespace torch_local_rnn
