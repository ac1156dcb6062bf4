// The rules with extra tensors, called from C++ (rule_tensors of the C++ API): KeRNL with A = I and
// rates = alpha is RFLO; the stochastic rules' mean over noise draws approaches the exact gradient;
// DNI has no sequence form and says so.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torch_local_rnn/ops.h>

#include "reference.h"

namespace {

struct Net {
  torch::Tensor x, h0, g, w, u, b, out, dphi;
  double alpha = 0.6;
};

Net make_net(int64_t T, int64_t B, int64_t I, int64_t n) {
  torch::manual_seed(21);
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  Net net{torch::randn({T, B, I}, opts), torch::randn({B, n}, opts), torch::randn({T, B, n}, opts),
          0.7 * torch::randn({n, n}, opts) / std::sqrt(double(n)), torch::randn({n, I}, opts), torch::randn({n}, opts)};
  std::tie(net.out, net.dphi) = torch_local_rnn::leaky_rnn_forward(net.x, net.h0, net.w, net.u, net.b, net.alpha);
  return net;
}

TEST(RuleIdentities, KernlWithIdentityAndRatesAlphaIsRflo) {
  const int64_t n = 5;
  Net a = make_net(12, 2, 3, n);
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  std::vector<torch::Tensor> tensors = {torch::eye(n, opts), torch::full({n}, a.alpha, opts)};
  auto kernl = torch_local_rnn::leaky_rnn_rule_backward(a.g, a.x, a.h0, a.w, a.u, a.out, a.dphi, a.alpha, "kernl", {},
                                                        tensors);
  auto rflo = torch_local_rnn::leaky_rnn_rflo_backward(a.g, a.x, a.h0, a.w, a.u, a.out, a.dphi, a.alpha, a.alpha);
  EXPECT_LT(tlr_test::max_rel_err(std::get<2>(kernl), std::get<2>(rflo)), 1e-12);
  EXPECT_LT(tlr_test::max_rel_err(std::get<4>(kernl), std::get<4>(rflo)), 1e-12);
}

TEST(RuleIdentities, UoroMeanOverDrawsApproachesBptt) {
  const int64_t T = 6, I = 2, n = 3, draws = 20000;
  Net a = make_net(T, 1, I, n);
  auto exact = torch_local_rnn::leaky_rnn_bptt_backward(a.g, a.x, a.h0, a.w, a.u, a.out, a.dphi, a.alpha);
  // `draws` copies of the one stream, each with its own +-1 noise: the sequence form sums over streams.
  auto rep = [&](const torch::Tensor& t, int64_t dim) {
    std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
    sizes[dim] = draws;
    return t.expand(sizes).contiguous();
  };
  auto x = rep(a.x, 1), g = rep(a.g, 1), h0 = rep(a.h0, 0), out = rep(a.out, 1), dphi = rep(a.dphi, 1);
  auto nu = torch::randint(0, 2, {T, draws, n}, torch::TensorOptions().dtype(torch::kDouble)) * 2 - 1;
  auto uoro = torch_local_rnn::leaky_rnn_rule_backward(g, x, h0, a.w, a.u, out, dphi, a.alpha, "uoro", {}, {nu});
  const double err = (std::get<2>(uoro) / double(draws) - std::get<2>(exact)).norm().item<double>() /
                     std::get<2>(exact).norm().item<double>();
  EXPECT_LT(err, 0.1);
}

TEST(RuleIdentities, DniHasNoSequenceForm) {
  Net a = make_net(4, 1, 2, 3);
  try {
    torch_local_rnn::leaky_rnn_rule_backward(a.g, a.x, a.h0, a.w, a.u, a.out, a.dphi, a.alpha, "dni_b", {});
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no sequence form"), std::string::npos) << e.what();
  }
}

}  // namespace
