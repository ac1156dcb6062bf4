// The local rules routed through leaky_rnn_rule_backward, called from C++: with frozen weights
// RTRL, and F-BPTT / E-BPTT truncated at or beyond the sequence, give the BPTT gradient.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torch_local_rnn/ops.h>

#include "reference.h"

namespace {

struct RuleCase {
  const char* rule;
  std::vector<double> options;
};

class ExactRules : public ::testing::TestWithParam<RuleCase> {};

TEST_P(ExactRules, EqualBpttWithFrozenWeights) {
  const RuleCase c = GetParam();
  torch::manual_seed(11);
  const int64_t T = 10, B = 2, I = 3, n = 4;
  const double alpha = 0.5;
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  auto x = torch::randn({T, B, I}, opts), h0 = torch::randn({B, n}, opts), g = torch::randn({T, B, n}, opts);
  auto w = 0.7 * torch::randn({n, n}, opts), u = torch::randn({n, I}, opts), b = torch::randn({n}, opts);
  auto [out, dphi] = torch_local_rnn::leaky_rnn_forward(x, h0, w, u, b, alpha, "tanh");
  auto exact = torch_local_rnn::leaky_rnn_bptt_backward(g, x, h0, w, u, out, dphi, alpha);
  auto rule = torch_local_rnn::leaky_rnn_rule_backward(g, x, h0, w, u, out, dphi, alpha, c.rule, c.options);
  EXPECT_LT(tlr_test::max_rel_err(std::get<2>(rule), std::get<2>(exact)), 1e-10);
  EXPECT_LT(tlr_test::max_rel_err(std::get<3>(rule), std::get<3>(exact)), 1e-10);
  EXPECT_LT(tlr_test::max_rel_err(std::get<4>(rule), std::get<4>(exact)), 1e-10);
}

INSTANTIATE_TEST_SUITE_P(Rules, ExactRules,
                         ::testing::Values(RuleCase{"rtrl", {}}, RuleCase{"f_bptt", {10.0}},
                                           RuleCase{"f_bptt", {25.0}}, RuleCase{"e_bptt", {10.0}}),
                         [](const ::testing::TestParamInfo<RuleCase>& info) {
                           std::string name = info.param.rule;
                           if (!info.param.options.empty()) name += std::to_string(int(info.param.options[0]));
                           return name;
                         });

}  // namespace
