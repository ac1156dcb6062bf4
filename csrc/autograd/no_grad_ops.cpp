// The Autograd kernel of the ops that have no derivative (the plain forward, the rules' backward ops and
// the online ops). Without it the dispatcher's fallback would hand back outputs with a grad_fn that only
// warns on backward, and the ops that write their arguments in place would leave the version counters
// alone, so a graph that saved such an argument would backpropagate silently wrong values. Here:
// - an argument the schema marks as written (Tensor(a!)) may not require grad: a leaf would be changed
//   behind autograd's back, and a non-leaf has no derivative through this op;
// - the op runs below autograd, so its outputs have no grad_fn;
// - every written tensor's version counter is bumped, so autograd refuses a graph that saved it.
// One boxed kernel serves every such op: it reads the written arguments from the schema.
#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/library.h>

#include <string>
#include <vector>

namespace torch_local_rnn {
namespace {

void collect(const c10::IValue& value, std::vector<at::Tensor>& out) {
  if (value.isTensor()) {
    if (value.toTensor().defined()) out.push_back(value.toTensor());
  } else if (value.isTensorList()) {
    for (const at::Tensor& t : value.toTensorVector()) out.push_back(t);
  }
}

void run_below_autograd(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const auto& args = op.schema().arguments();
  const size_t first = stack->size() - args.size();
  std::string name = op.schema().name();  // "torch_local_rnn::online_learn": the errors say "online_learn"
  name = name.substr(name.find("::") + 2);
  std::vector<at::Tensor> written;
  for (size_t i = 0; i < args.size(); ++i) {
    const c10::AliasInfo* alias = args[i].alias_info();
    if (alias == nullptr || !alias->isWrite()) continue;
    const size_t before = written.size();
    collect((*stack)[first + i], written);
    for (size_t k = before; k < written.size(); ++k) {
      TORCH_CHECK(!written[k].requires_grad(), name, ": expected ", args[i].name(),
                  " not to require grad (the op writes it in place and has no derivative), but got a tensor that ",
                  "requires grad", written[k].is_leaf() ? " (a leaf)" : "", "; pass it detached (.detach())");
    }
  }
  {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    op.callBoxed(stack);
  }
  for (const at::Tensor& t : written) {
    if (!t.is_inference()) torch::autograd::impl::bump_version(t);
  }
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, Autograd, m) {
  for (const char* name : {"leaky_rnn_forward", "leaky_rnn_rule_backward", "leaky_rnn_bptt_backward",
                           "leaky_rnn_rflo_backward", "online_learn", "online_learn_members", "rflo_online",
                           "online_optimizer_step"}) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<&run_below_autograd>());
  }
}

}  // namespace torch_local_rnn
