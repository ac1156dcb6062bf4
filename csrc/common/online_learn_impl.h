// online_learn on one backend, shared by both backends (common/backend_ops.h): the common checks, then the
// rule's kernel from the backend's table `Rules`. The checks and the run are two functions, so
// online_learn_members (common/online_learn_members_impl.h) checks every member before it runs any. `op` is the
// name the errors give: online_learn, the alias rflo_online, or a member of online_learn_members.
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

// The arguments of one online_learn call as the schema takes them (csrc/registration.cpp). References: they
// live in the op's frame, or in a member's views (online_learn_members).
struct OnlineLearnArgs {
  c10::string_view rule;
  const at::Tensor &x, &y, &hidden, &weight_hh, &weight_ih, &bias, &weight_out, &bias_out;
  at::TensorList state;
  const std::optional<at::Tensor> &rec_grad, &feedback;
  double alpha;
  c10::string_view nonlinearity, loss;
  double lr;
  c10::ArrayRef<double> rule_options;
  at::TensorList rule_tensors;
  const std::optional<at::Tensor>& record;
  double l2;
  c10::string_view optimizer;
  c10::ArrayRef<double> optimizer_options;
  const std::optional<at::Tensor>& optimizer_state;
  int64_t optimizer_steps;
  const std::optional<at::Tensor> &lr_schedule, &credit;
};

// What the checks of one call found and its run reads: the sizes, the parsed rule options, the rule's
// kernel, the optimiser, and the inputs the kernel reads through raw pointers, made contiguous.
struct CheckedOnlineLearn {
  OnlineArgs args;
  RuleOptions options;
  OnlineRuleFn fn;
  OptimizerCall optimization;
  at::Tensor x, y;
  std::optional<at::Tensor> feedback, credit;
};

// Every check of online_learn; writes nothing (a call refused here changes nothing).
template <typename Rules>
CheckedOnlineLearn check_online_learn(const char* backend, const char* op, const OnlineLearnArgs& a) {
  const OnlineArgs args = check_online_args(op, a.x, a.y, a.hidden, a.weight_hh, a.weight_ih, a.bias, a.weight_out,
                                            a.bias_out, a.feedback, a.alpha, a.nonlinearity, a.loss, a.lr, a.l2);
  // The rule, its options parsed once (into the typed struct the kernel reads) and its state checked
  // against the shapes its descriptor declares, before anything is written.
  const RuleDescriptor& descriptor = find_rule(a.rule, op);
  RuleOptions options = parse_rule_options(descriptor, a.rule_options, a.alpha, RuleForm::Online, op);
  check_rule_tensors(descriptor, a.rule_tensors, op);
  TORCH_CHECK(!a.record || descriptor.records, op, ": only rules 'dni' and 'dni_b' record per-step signals, but got ",
              "record for rule '", descriptor.name, "'");
  const OnlineRuleFn fn = Rules::get(descriptor.name, op, backend);
  check_rule_state(descriptor, options, {args.B, args.n, args.I, args.O}, a.state, a.x, op);
  OptimizerCall optimization = check_optimizer_args(op, a.optimizer, a.optimizer_options, a.optimizer_state,
                                                    a.optimizer_steps, a.lr_schedule, a.x, args);
  if (a.rec_grad) check_state(op, *a.rec_grad, a.x, {args.n, args.n + args.I + 1}, "rec_grad",
                              "(hidden_size, hidden_size + input_size + 1)");
  std::optional<at::Tensor> credit;
  if (a.credit) {  // the credit mode (docs/algorithms.md §2.8)
    check_like(*a.credit, a.x, op, "credit", "x");
    check_shape(*a.credit, {args.T, args.B, args.n}, op, "credit", "(seq_len, batch, hidden_size)");
    TORCH_CHECK(!a.record, op, ": record is not available in the credit mode (the rule's signals follow from the "
                "fused readout), but got both credit and record");
    credit = a.credit->contiguous();
  }
  std::optional<at::Tensor> feedback;
  if (a.feedback) feedback = a.feedback->contiguous();
  return {args, std::move(options), fn, std::move(optimization), a.x.contiguous(), a.y.contiguous(),
          std::move(feedback), std::move(credit)};
}

// The run of a checked call: the rule's kernel updates a's tensors in place and writes losses (T, B),
// contiguous.
inline void run_online_learn(const OnlineLearnArgs& a, const CheckedOnlineLearn& c, const at::Tensor& losses) {
  c.fn(OnlineCall{c.args, c.x, c.y, a.hidden, a.weight_hh, a.weight_ih, a.bias, a.weight_out, a.bias_out, a.state,
                  a.rec_grad, c.feedback, a.alpha, a.lr, c.options, a.rule_tensors, a.record, losses, c.optimization,
                  c.credit});
}

template <typename Rules>
at::Tensor online_learn_impl(const char* backend, const char* op, const OnlineLearnArgs& a) {
  // Not differentiable: keep the ATen calls some rules make (BLAS) out of autograd.
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  const CheckedOnlineLearn checked = check_online_learn<Rules>(backend, op, a);
  at::Tensor losses = at::empty({checked.args.T, checked.args.B}, a.x.options());
  run_online_learn(a, checked, losses);
  return losses;
}

}  // namespace torch_local_rnn
