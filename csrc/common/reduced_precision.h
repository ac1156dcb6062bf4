// float16 / bfloat16 through the sequence op (docs/algorithms.md §1.3): the kernels run in float32 (states,
// traces and every sum in float32; a half-precision recurrence would lose the state's small increments within a
// few hundred steps), and the output comes back in the inputs' dtype. Host only: the two entry points of
// leaky_rnn (with and without autograd) widen their arguments with this and call leaky_rnn again.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "checks.h"

namespace torch_local_rnn {

inline bool is_reduced_precision(const at::Tensor& t) {
  return t.defined() && (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16);
}

// The reduced dtype of a call whose tensors are float16 / bfloat16, or none (then the kernels' own dtype checks
// apply). A call mixing a reduced dtype with another is refused here, naming both, as the kernels refuse mixed
// float32 / float64.
inline std::optional<at::ScalarType> reduced_precision_of(const char* op, const at::Tensor& x, const at::Tensor& h0,
                                                          const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                                          const at::Tensor& bias) {
  const at::Tensor* all[] = {&x, &h0, &weight_hh, &weight_ih, &bias};
  const char* names[] = {"x", "h0", "weight_hh", "weight_ih", "bias"};
  bool any = false;
  for (const at::Tensor* t : all) any = any || is_reduced_precision(*t);
  if (!any) return std::nullopt;
  for (int k = 0; k < 5; ++k) {
    TORCH_CHECK(all[k]->defined() && all[k]->scalar_type() == x.scalar_type(), op, ": expected ", names[k],
                " to have the dtype of x (", x.scalar_type(), "; float16 and bfloat16 run in float32 inside the op, "
                "but all of x, h0 and the weights must share one dtype, or use torch.autocast), but got ",
                all[k]->defined() ? c10::toString(all[k]->scalar_type()) : "an undefined tensor");
  }
  return x.scalar_type();
}

// The rule's per-step tensors in float32 where they are floating (noise draws, KeRNL's A and rates).
inline std::vector<at::Tensor> widen_rule_tensors(at::TensorList tensors) {
  std::vector<at::Tensor> out;
  out.reserve(tensors.size());
  for (const at::Tensor& t : tensors) out.push_back(t.is_floating_point() ? t.to(at::kFloat) : t);
  return out;
}

}  // namespace torch_local_rnn
