// The counter-based generator of the stochastic rules' noise (common/philox.h, docs/algorithms.md §2.5):
// Philox4x32-10 against the published known answers, the three kinds' values, and the ops that fill and
// reserve draws (noise_from_counter, noise_reserve) through the dispatcher.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include <torch_local_rnn/ops.h>

#include "common/philox.h"

namespace philox = torch_local_rnn::philox;

// Random123's tests/kat_vectors (github.com/DEShawResearch/random123), the three "philox4x32 10" lines:
// counter (4 words), key (2 words), expected (4 words).
TEST(Philox, KnownAnswers) {
  const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
       0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
       0x24126ea1}};
  for (const auto& v : kat) {
    const philox::Block out = philox::philox4x32_10(philox::Block{{v[0], v[1], v[2], v[3]}}, v[4], v[5]);
    for (int k = 0; k < 4; ++k) EXPECT_EQ(out.w[k], v[6 + k]) << "word " << k << " of counter " << v[0];
  }
}

// The layout: key = seed's two halves, counter = (offset + index)'s two halves and two zero words.
TEST(Philox, DrawLayout) {
  const uint64_t seed = 0x299f31d0a4093822ull, i = 0x85a308d3243f6a88ull;
  const philox::Block b = philox::block_at(seed, i);
  const philox::Block want = philox::philox4x32_10(philox::Block{{0x243f6a88, 0x85a308d3, 0, 0}}, 0xa4093822,
                                                   0x299f31d0);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(b.w[k], want.w[k]);
  EXPECT_EQ(philox::draw(philox::NoiseKind::Discrete, seed, i - 5, 5), (b.w[0] >> 31) ? 1.0 : -1.0);
  const double u = static_cast<double>((static_cast<uint64_t>(b.w[1]) << 32 | b.w[0]) >> 11) / 9007199254740992.0;
  EXPECT_EQ(philox::draw(philox::NoiseKind::Uniform, seed, i, 0), 2.0 * u - 1.0);
}

TEST(Philox, KindsHaveTheirMoments) {
  const int64_t N = 200000;
  for (auto kind : {philox::NoiseKind::Discrete, philox::NoiseKind::Gaussian, philox::NoiseKind::Uniform}) {
    double sum = 0, sq = 0, lo = 1e9, hi = -1e9;
    for (int64_t i = 0; i < N; ++i) {
      const double v = philox::draw(kind, 7, 11, i);
      sum += v, sq += v * v, lo = std::min(lo, v), hi = std::max(hi, v);
      if (kind == philox::NoiseKind::Discrete) ASSERT_TRUE(v == 1.0 || v == -1.0);
    }
    const double var = kind == philox::NoiseKind::Uniform ? 1.0 / 3.0 : 1.0;  // E[nu^2]: docs/algorithms.md §2.5
    EXPECT_NEAR(sum / N, 0.0, 5.0 / std::sqrt(double(N)));
    EXPECT_NEAR(sq / N, var, 0.02);
    if (kind == philox::NoiseKind::Uniform) EXPECT_TRUE(lo >= -1.0 && hi < 1.0);
    if (kind == philox::NoiseKind::Gaussian) EXPECT_TRUE(lo < -4.0 && hi > 4.0);
  }
}

// The op's draws are the header's; a fill at offset k continues a fill at offset 0 (chunking-independent).
TEST(Philox, FillOpMatchesTheHeaderAndChunks) {
  at::Tensor whole = at::empty({5, 3, 4}, at::kDouble);
  torch_local_rnn::noise_from_counter(whole, "gaussian", 123, 40);
  const double* w = whole.data_ptr<double>();
  for (int64_t i = 0; i < whole.numel(); ++i) EXPECT_EQ(w[i], philox::draw(philox::NoiseKind::Gaussian, 123, 40, i));
  at::Tensor tail = at::empty({3, 3, 4}, at::kDouble);
  torch_local_rnn::noise_from_counter(tail, "gaussian", 123, 40 + 2 * 3 * 4);
  EXPECT_TRUE(at::equal(tail, whole.slice(0, 2)));
  at::Tensor f = at::empty({7}, at::kFloat);
  torch_local_rnn::noise_from_counter(f, "uniform", 1, 0);
  for (int64_t i = 0; i < 7; ++i) {
    EXPECT_EQ(f.data_ptr<float>()[i], static_cast<float>(philox::draw(philox::NoiseKind::Uniform, 1, 0, i)));
  }
  EXPECT_THROW(torch_local_rnn::noise_from_counter(f, "cauchy", 1, 0), c10::Error);
  EXPECT_THROW(torch_local_rnn::noise_from_counter(f, "uniform", 1, -1), c10::Error);
}

TEST(Philox, ReserveAdvancesTheOffset) {
  at::Tensor seed = at::scalar_tensor(9, at::kLong), offset = at::scalar_tensor(100, at::kLong);
  at::Tensor first = torch_local_rnn::noise_reserve(seed, offset, 24, "gaussian");
  at::Tensor second = torch_local_rnn::noise_reserve(seed, offset, 6, "discrete");
  EXPECT_TRUE(at::equal(first, at::tensor({9, 100, 1}, at::kLong)));
  EXPECT_TRUE(at::equal(second, at::tensor({9, 124, 0}, at::kLong)));
  EXPECT_EQ(offset.item<int64_t>(), 130);
  EXPECT_THROW(torch_local_rnn::noise_reserve(seed, offset, -1, "gaussian"), c10::Error);
}
