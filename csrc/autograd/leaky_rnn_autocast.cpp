// leaky_rnn under torch.autocast (docs/algorithms.md §1.3): a float32 op in autocast's terms, as torch's own
// RNNs are on the CPU. Every floating argument is cast to float32 (autocast's cache reuses the weights' casts
// within a region), the op runs with autocast off, and the output is float32: "Linear then LocalRNN" trains under
// autocast(bfloat16) though the Linear hands over bfloat16 and the LocalRNN's weights are float32.
#include <ATen/autocast_mode.h>
#include <torch/library.h>

#include "../include/torch_local_rnn/ops.h"

namespace torch_local_rnn {
namespace {

template <c10::DeviceType Device>
at::Tensor leaky_rnn_autocast(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& weight_hh,
                              const at::Tensor& weight_ih, const at::Tensor& bias, double alpha,
                              c10::string_view nonlinearity, c10::string_view rule,
                              c10::ArrayRef<double> rule_options, at::TensorList rule_tensors) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(at::autocast::get_autocast_dispatch_key_from_device_type(Device));
  const auto wide = [](const at::Tensor& t) { return at::autocast::cached_cast(at::kFloat, t, Device); };
  std::vector<at::Tensor> tensors;
  for (const at::Tensor& t : rule_tensors) tensors.push_back(wide(t));
  return leaky_rnn(wide(x), wide(h0), wide(weight_hh), wide(weight_ih), wide(bias), alpha, nonlinearity, rule,
                   rule_options, tensors);
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, AutocastCPU, m) {
  m.impl("leaky_rnn", &leaky_rnn_autocast<c10::DeviceType::CPU>);
}
TORCH_LIBRARY_IMPL(torch_local_rnn, AutocastCUDA, m) {
  m.impl("leaky_rnn", &leaky_rnn_autocast<c10::DeviceType::CUDA>);
}

}  // namespace torch_local_rnn
