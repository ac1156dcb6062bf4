// Writes the ops' results on formula inputs (reference.h) to $TLR_PARITY_FILE with
// torch::pickle_save; tests/test_cpp_parity.py runs this test and checks that Python's
// calls of the same ops on the same inputs give the same numbers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torch_local_rnn/ops.h>

#include <cstdlib>
#include <fstream>

#include "reference.h"

TEST(Parity, DumpOpResults) {
  const int64_t T = 9, B = 2, I = 3, n = 4, O = 2;
  using tlr_test::formula;
  auto x = formula({T, B, I}, 0.1), h0 = formula({B, n}, 0.2), w = formula({n, n}, 0.3);
  auto u = formula({n, I}, 0.4), b = formula({n}, 0.5), g = formula({T, B, n}, 0.6);
  auto [out, dphi] = torch_local_rnn::leaky_rnn_forward(x, h0, w, u, b, 0.5, "tanh");
  auto bptt = torch_local_rnn::leaky_rnn_bptt_backward(g, x, h0, w, u, out, dphi, 0.5);
  auto rflo = torch_local_rnn::leaky_rnn_rflo_backward(g, x, h0, w, u, out, dphi, 0.5, 0.5);
  auto y = torch::softmax(formula({T, B, O}, 0.7), 2);
  auto hidden = torch::zeros({B, n}, torch::kDouble), trace = torch::zeros({B, n, n + I + 1}, torch::kDouble);
  auto w2 = w.clone(), u2 = u.clone(), b2 = b.clone(), wo = formula({O, n}, 0.8), bo = formula({O}, 0.9);
  auto losses = torch_local_rnn::rflo_online(x, y, hidden, trace, w2, u2, b2, wo, bo, std::nullopt, 0.5, 0.5, "tanh",
                                             "cross_entropy", 0.1);
  ASSERT_TRUE(torch::isfinite(losses).all().item<bool>());

  const char* path = std::getenv("TLR_PARITY_FILE");
  if (path == nullptr) return;
  c10::List<at::Tensor> results({out, dphi, std::get<0>(bptt), std::get<1>(bptt), std::get<2>(bptt),
                                 std::get<3>(bptt), std::get<4>(bptt), std::get<2>(rflo), std::get<3>(rflo),
                                 std::get<4>(rflo), losses, w2, wo, hidden, trace});
  const std::vector<char> bytes = torch::pickle_save(results);
  std::ofstream file(path, std::ios::binary);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(file.good());
}
