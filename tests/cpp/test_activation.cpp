// The host's float tanh (common/activation.h, tanh_float_host): the correctly rounded tanh, i.e. the double tanh
// rounded to float (what `tanh(float)` computed before), on a sample of every binade, with the special values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "common/activation.h"

namespace {

using torch_local_rnn::tanh_float_host;
using torch_local_rnn::tanh_value;

float from_bits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

TEST(Activation, FloatTanhIsCorrectlyRounded) {
  // Every 97th float from 0 to 11 (every 7th was checked once: 3.1e8 values, none off), then a sample of the
  // larger ones, where tanh rounds to 1; both signs. The reference is within 1 ulp of double precision, so it
  // rounds to the correctly rounded float but for double roundings, of which this sample has none.
  int64_t checked = 0;
  for (uint32_t bits = 0; bits < 0x7f800000u; bits += (bits < 0x41300000u ? 97u : 9973u)) {
    const float x = from_bits(bits);
    for (const float v : {x, -x}) {
      const float want = static_cast<float>(std::tanh(static_cast<double>(v)));
      ASSERT_EQ(tanh_float_host(v), want) << "tanh(" << v << ")";
      ++checked;
    }
  }
  EXPECT_GT(checked, 20000000);
}

TEST(Activation, FloatTanhSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(tanh_float_host(inf), 1.0f);
  EXPECT_EQ(tanh_float_host(-inf), -1.0f);
  EXPECT_EQ(tanh_float_host(std::numeric_limits<float>::max()), 1.0f);
  EXPECT_TRUE(std::isnan(tanh_float_host(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(tanh_float_host(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(tanh_float_host(-0.0f)));
  const float tiny = std::numeric_limits<float>::denorm_min();
  EXPECT_EQ(tanh_float_host(tiny), tiny);
  EXPECT_EQ(tanh_float_host(-tiny), -tiny);
}

TEST(Activation, DoubleTanhIsLibms) {
  for (double x = -25; x < 25; x += 0.0137) EXPECT_EQ(tanh_value(x), std::tanh(x)) << x;
}

}  // namespace
