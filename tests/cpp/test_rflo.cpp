// RFLO from C++: the sequence form equals the per-step trace recursion (docs/algorithms.md §3.6),
// and the online op equals a per-step loop with SGD after every step (§2.1).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torch_local_rnn/ops.h>

#include "reference.h"

namespace {

using torch::indexing::Slice;

TEST(Rflo, SequenceFormEqualsTraceRecursion) {
  torch::manual_seed(5);
  const int64_t T = 20, B = 3, I = 2, n = 4, m = n + I + 1;
  const double alpha = 0.5, k = 0.3;
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  auto x = torch::randn({T, B, I}, opts), h0 = torch::randn({B, n}, opts);
  auto w_hh = 0.7 * torch::randn({n, n}, opts), w_ih = torch::randn({n, I}, opts), b = torch::randn({n}, opts);
  auto g = torch::randn({T, B, n}, opts);
  auto [out, dphi] = torch_local_rnn::leaky_rnn_forward(x, h0, w_hh, w_ih, b, alpha, "tanh");
  auto [gx, gh0, gw, gu, gb] = torch_local_rnn::leaky_rnn_rflo_backward(g, x, h0, w_hh, w_ih, out, dphi, alpha, k);

  // B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T per stream; G = sum_t sum_b diag(g_tb) B_tb.
  auto trace = torch::zeros({B, n, m}, opts), grad = torch::zeros({n, m}, opts);
  auto a = h0;
  for (int64_t t = 0; t < T; ++t) {
    auto ahat = torch::cat({a, x[t], torch::ones({B, 1}, opts)}, 1);
    auto pre = torch::matmul(a, w_hh.t()) + torch::matmul(x[t], w_ih.t()) + b;
    auto d = 1 - torch::tanh(pre).pow(2);
    trace = (1 - k) * trace + k * d.unsqueeze(2) * ahat.unsqueeze(1);
    grad += (g[t].unsqueeze(2) * trace).sum(0);
    a = (1 - alpha) * a + alpha * torch::tanh(pre);
  }
  EXPECT_LT(tlr_test::max_rel_err(gw, grad.index({Slice(), Slice(0, n)})), 1e-10);
  EXPECT_LT(tlr_test::max_rel_err(gu, grad.index({Slice(), Slice(n, n + I)})), 1e-10);
  EXPECT_LT(tlr_test::max_rel_err(gb, grad.index({Slice(), n + I})), 1e-10);
}

TEST(Rflo, OnlineEqualsPerStepLoop) {
  torch::manual_seed(7);
  const int64_t T = 300, B = 2, I = 2, n = 6, O = 2, m = n + I + 1;
  const double alpha = 0.5, lr = 0.05;
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  auto x = torch::randn({T, B, I}, opts), y = torch::softmax(torch::randn({T, B, O}, opts), 2);
  auto w_hh = 0.5 * torch::randn({n, n}, opts), w_ih = torch::randn({n, I}, opts), b = torch::zeros({n}, opts);
  auto w_out = torch::randn({O, n}, opts), b_out = torch::zeros({O}, opts);
  // Reference copies, updated by the loop below.
  auto rw = w_hh.clone(), ru = w_ih.clone(), rb = b.clone(), rwo = w_out.clone(), rbo = b_out.clone();
  auto hidden = torch::zeros({B, n}, opts), trace = torch::zeros({B, n, m}, opts);
  auto losses = torch_local_rnn::rflo_online(x, y, hidden, trace, w_hh, w_ih, b, w_out, b_out, std::nullopt, alpha,
                                             alpha, "tanh", "cross_entropy", lr);

  auto a = torch::zeros({B, n}, opts), tr = torch::zeros({B, n, m}, opts);
  for (int64_t t = 0; t < T; ++t) {
    auto ahat = torch::cat({a, x[t], torch::ones({B, 1}, opts)}, 1);
    auto pre = torch::matmul(a, rw.t()) + torch::matmul(x[t], ru.t()) + rb;
    a = (1 - alpha) * a + alpha * torch::tanh(pre);
    auto z = torch::matmul(a, rwo.t()) + rbo;
    auto p = torch::softmax(z, 1);
    auto loss = -(y[t] * p.clamp_min(1e-4).log()).sum(1);
    EXPECT_NEAR(losses[t][0].item<double>(), loss[0].item<double>(), 1e-9);
    auto e = p - y[t];
    auto q = torch::matmul(e, rwo);
    tr = (1 - alpha) * tr + alpha * (1 - torch::tanh(pre).pow(2)).unsqueeze(2) * ahat.unsqueeze(1);
    auto G = (q.unsqueeze(2) * tr).mean(0);
    rw -= lr * G.index({Slice(), Slice(0, n)});
    ru -= lr * G.index({Slice(), Slice(n, n + I)});
    rb -= lr * G.index({Slice(), n + I});
    rwo -= lr * torch::matmul(e.t(), a) / B;
    rbo -= lr * e.mean(0);
  }
  EXPECT_LT((w_hh - rw).abs().max().item<double>(), 1e-9);
  EXPECT_LT((w_ih - ru).abs().max().item<double>(), 1e-9);
  EXPECT_LT((w_out - rwo).abs().max().item<double>(), 1e-9);
  EXPECT_LT((hidden - a).abs().max().item<double>(), 1e-9);
  EXPECT_LT((trace - tr).abs().max().item<double>(), 1e-9);
}

}  // namespace
