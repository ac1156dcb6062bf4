// Bad calls from C++ throw c10::Error naming the argument, what was expected and what came.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torch_local_rnn/ops.h>

namespace {

void expect_error(const std::function<void()>& call, const std::string& fragment) {
  try {
    call();
    FAIL() << "no error; expected one mentioning: " << fragment;
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find(fragment), std::string::npos) << e.what_without_backtrace();
  }
}

TEST(Errors, ForwardArgumentsAreNamed) {
  auto x = torch::randn({4, 2, 3}), h0 = torch::zeros({2, 5});
  auto w = torch::randn({5, 5}), u = torch::randn({5, 3}), b = torch::zeros({5});
  expect_error([&] { torch_local_rnn::leaky_rnn_forward(x[0], h0, w, u, b, 1.0); }, "expected x to be 3-D");
  expect_error([&] { torch_local_rnn::leaky_rnn_forward(x, h0, w, torch::randn({5, 4}), b, 1.0); }, "weight_ih");
  expect_error([&] { torch_local_rnn::leaky_rnn_forward(x, h0, w.to(torch::kDouble), u, b, 1.0); },
               "expected weight_hh to have the dtype of x");
  expect_error([&] { torch_local_rnn::leaky_rnn_forward(x.to(torch::kLong), h0, w, u, b, 1.0); },
               "expected x to be a float32 or float64 tensor");
  expect_error([&] { torch_local_rnn::leaky_rnn_forward(x, h0, w, u, b, 0.0); }, "expected alpha in (0, 1]");
  expect_error([&] { torch_local_rnn::leaky_rnn_forward(x, h0, w, u, b, 1.0, "gelu"); }, "nonlinearity");
  expect_error([&] { torch_local_rnn::leaky_rnn_forward(torch::randn({0, 2, 3}), h0, w, u, b, 1.0); },
               "expected x to be non-empty");
  expect_error([&] { torch_local_rnn::leaky_rnn(x, h0, w, u, b, 1.0, "tanh", "hebb"); }, "expected rule");
}

}  // namespace
