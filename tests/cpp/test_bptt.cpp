// Forward and BPTT called from C++ equal LibTorch autograd through the per-step reference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torch_local_rnn/ops.h>

#include "reference.h"

namespace {

struct Case {
  double alpha;
  const char* f;
  int64_t B;
};

class Bptt : public ::testing::TestWithParam<Case> {};

TEST_P(Bptt, ForwardAndGradientsMatchAutogradReference) {
  const Case c = GetParam();
  torch::manual_seed(3);
  const int64_t T = 12, I = 3, n = 5;
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  auto x = torch::randn({T, c.B, I}, opts);
  auto h0 = torch::randn({c.B, n}, opts).requires_grad_();
  auto w_hh = (0.6 * torch::randn({n, n}, opts)).requires_grad_();
  auto w_ih = torch::randn({n, I}, opts).requires_grad_();
  auto b = (0.1 * torch::randn({n}, opts)).requires_grad_();
  auto g = torch::randn({T, c.B, n}, opts);

  auto out = torch_local_rnn::leaky_rnn(x, h0, w_hh, w_ih, b, c.alpha, c.f, "bptt");
  auto grads = torch::autograd::grad({out}, {h0, w_hh, w_ih, b}, {g});
  auto ref = tlr_test::forward(x, h0, w_hh, w_ih, b, c.alpha, c.f);
  auto ref_grads = torch::autograd::grad({ref}, {h0, w_hh, w_ih, b}, {g});

  EXPECT_LT(tlr_test::max_rel_err(out.detach(), ref.detach()), 1e-12);
  for (size_t k = 0; k < grads.size(); ++k) EXPECT_LT(tlr_test::max_rel_err(grads[k], ref_grads[k]), 1e-10) << k;
}

INSTANTIATE_TEST_SUITE_P(Cases, Bptt,
                         ::testing::Values(Case{1.0, "tanh", 1}, Case{0.5, "tanh", 3}, Case{0.5, "relu", 3},
                                           Case{1.0, "sigmoid", 3}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.f) + "_alpha" + (info.param.alpha == 1.0 ? "1" : "05") +
                                  "_B" + std::to_string(info.param.B);
                         });

}  // namespace
