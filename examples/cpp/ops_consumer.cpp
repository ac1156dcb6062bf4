// Calls the ops from C++ (LibTorch): a leaky RNN's forward, then the backward of two rules on the same forward
// pass — exact BPTT through autograd and RFLO (docs/algorithms.md §3.6) — and prints how far RFLO's W_hh
// gradient is from BPTT's. Exits non-zero if anything is not finite.
#include <torch/torch.h>
#include <torch_local_rnn/ops.h>

#include <cstdio>

int main() {
  torch::manual_seed(0);
  const int64_t T = 50, B = 4, I = 3, n = 16;
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto x = torch::randn({T, B, I}, opts), h0 = torch::zeros({B, n}, opts);
  auto w_hh = (0.9 / std::sqrt(double(n)) * torch::randn({n, n}, opts)).requires_grad_();
  auto w_ih = torch::randn({n, I}, opts).requires_grad_();
  auto bias = torch::zeros({n}, opts).requires_grad_();

  double norms[2] = {0, 0};
  torch::Tensor grads[2];
  const char* rules[2] = {"bptt", "rflo"};
  for (int r = 0; r < 2; ++r) {
    auto out = torch_local_rnn::leaky_rnn(x, h0, w_hh, w_ih, bias, /*alpha=*/0.5, "tanh", rules[r]);
    auto loss = out.pow(2).mean();
    loss.backward();
    grads[r] = w_hh.grad().clone();
    norms[r] = grads[r].norm().item<double>();
    w_hh.mutable_grad().zero_();
    w_ih.mutable_grad().zero_();
    bias.mutable_grad().zero_();
    std::printf("%-5s loss %.6f  |dL/dW_hh| %.6f\n", rules[r], loss.item<double>(), norms[r]);
  }
  const double cosine = (grads[0] * grads[1]).sum().item<double>() / (norms[0] * norms[1]);
  std::printf("cosine(RFLO, BPTT) for W_hh: %.4f\n", cosine);
  return std::isfinite(cosine) && norms[0] > 0 && norms[1] > 0 ? 0 : 1;
}
