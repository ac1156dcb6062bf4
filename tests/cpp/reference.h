// LibTorch references for the GoogleTest suite: per-step loops of plain torch ops, written
// from docs/algorithms.md §1, §3.6 and independent of the kernels under test.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace tlr_test {

inline torch::Tensor phi(const torch::Tensor& h, const std::string& f) {
  if (f == "tanh") return torch::tanh(h);
  if (f == "relu") return torch::relu(h);
  return torch::sigmoid(h);
}

// a_t = (1 - alpha) a_{t-1} + alpha phi(W_hh a_{t-1} + W_ih x_t + b); returns a_1..a_T.
inline torch::Tensor forward(const torch::Tensor& x, torch::Tensor a, const torch::Tensor& w_hh,
                             const torch::Tensor& w_ih, const torch::Tensor& b, double alpha,
                             const std::string& f = "tanh", bool detach_recurrent = false) {
  std::vector<torch::Tensor> out;
  for (int64_t t = 0; t < x.size(0); ++t) {
    const torch::Tensor rec = detach_recurrent ? a.detach() : a;
    a = (1 - alpha) * a + alpha * phi(torch::matmul(rec, w_hh.t()) + torch::matmul(x[t], w_ih.t()) + b, f);
    out.push_back(a);
  }
  return torch::stack(out);
}

// Deterministic, non-trivial inputs from a formula, identical in C++ and Python
// (tests/test_cpp_parity.py builds the same): v_k = 0.5 sin(0.7 k + phase).
inline torch::Tensor formula(std::vector<int64_t> shape, double phase) {
  const int64_t numel = torch::ones(shape).numel();
  auto k = torch::arange(numel, torch::kDouble);
  return (0.5 * torch::sin(0.7 * k + phase)).reshape(shape);
}

inline double max_rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item<double>();
}

}  // namespace tlr_test
