// The counter-based generator of the stochastic rules' noise nu (docs/algorithms.md §2.5), written once
// for the host and the device: Philox4x32-10 (Salmon et al. 2011, "Parallel random numbers: as easy as
// 1, 2, 3"; the generator of cuRAND's and PyTorch's CUDA draws), and the three noise kinds drawn from
// it. A draw is a pure function of (kind, seed, index): no state, so any thread computes any draw, the
// CPU and CUDA fills agree, and a sequence cut into calls draws what one call would (the caller
// advances the offset by the draws it used). Framework-free (no ATen), so the .cu kernels include it.
//
// Layout of one draw: key = (lo32(seed), hi32(seed)), counter = (lo32(i), hi32(i), 0, 0) with
// i = offset + index; the four 32-bit words w0..w3 of Philox4x32-10(counter, key) give
//   discrete: +1 if the top bit of w0 is set, else -1
//   uniform:  2 u(w0, w1) - 1, u(lo, hi) = ((hi << 32 | lo) >> 11) 2^-53 in [0, 1) (53 bits)
//   gaussian: sqrt(-2 log1p(-u(w0, w1))) cos(2 pi u(w2, w3))   (Box-Muller, as rules/factored.py's
//             standard_normal: log1p(-u) is finite for u in [0, 1))
// computed in double and rounded once to the tensor's dtype.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define TLR_PHILOX_FN __host__ __device__ inline
#else
#define TLR_PHILOX_FN inline
#endif

namespace torch_local_rnn {
namespace philox {

// The noise kinds, in the order of rules/factored.py's NOISE_KINDS (their codes in a noise counter).
enum class NoiseKind : int64_t { Discrete = 0, Gaussian = 1, Uniform = 2 };
constexpr int64_t kNoiseKinds = 3;

struct Block {
  uint32_t w[4];
};

// Random123's constants: the round multipliers and the Weyl key increments (golden ratio, sqrt(3) - 1).
constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;

TLR_PHILOX_FN void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Philox4x32 with 10 rounds: the bijection of the counter under the key (Random123's philox4x32_R(10, ...)).
TLR_PHILOX_FN Block philox4x32_10(Block c, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // the key schedule: bumped before every round but the first
      k0 += kW0;
      k1 += kW1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kM0, c.w[0], hi0, lo0);
    mulhilo(kM1, c.w[2], hi1, lo1);
    c = Block{{hi1 ^ c.w[1] ^ k0, lo1, hi0 ^ c.w[3] ^ k1, lo0}};
  }
  return c;
}

// The block of draw number i under seed (the layout above).
TLR_PHILOX_FN Block block_at(uint64_t seed, uint64_t i) {
  return philox4x32_10(Block{{static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), 0u, 0u}},
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// u in [0, 1) with 53 random bits (every value a double represents exactly).
TLR_PHILOX_FN double unit_interval(uint32_t lo, uint32_t hi) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 32 | lo) >> 11;
  return static_cast<double>(bits) * (1.0 / 9007199254740992.0);  // 2^-53
}

// nu for (kind, seed, offset + index); the index arithmetic wraps modulo 2^64 (the counter's range).
TLR_PHILOX_FN double draw(NoiseKind kind, uint64_t seed, uint64_t offset, uint64_t index) {
  const Block b = block_at(seed, offset + index);
  switch (kind) {
    case NoiseKind::Discrete:
      return (b.w[0] >> 31) ? 1.0 : -1.0;
    case NoiseKind::Uniform:
      return 2.0 * unit_interval(b.w[0], b.w[1]) - 1.0;
    default: {  // Gaussian
      const double radius = sqrt(-2.0 * log1p(-unit_interval(b.w[0], b.w[1])));
      return radius * cos(6.283185307179586 * unit_interval(b.w[2], b.w[3]));
    }
  }
}

// out[j] = draw(kind, seed, offset, first + j) for j in [0, count): the loop both fills run over their share.
template <typename T>
TLR_PHILOX_FN void fill_range(T* out, NoiseKind kind, uint64_t seed, uint64_t offset, int64_t first, int64_t count) {
  for (int64_t j = 0; j < count; ++j) {
    out[j] = static_cast<T>(draw(kind, seed, offset, static_cast<uint64_t>(first + j)));
  }
}

}  // namespace philox
}  // namespace torch_local_rnn
