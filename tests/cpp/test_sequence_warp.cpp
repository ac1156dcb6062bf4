// The warp-per-stream sequence kernel (kernels/sequence_warp.cuh) where there is no GPU: the function each of its
// lanes runs (common/sequence_warp_stream.h's run_warp_stream) run for 32 emulated lanes in step, with the
// forward's and exact BPTT's cells (kernels/leaky_rnn_persistent.cuh, rules/bptt/bptt_persistent.cuh), against
// the recursions of docs/algorithms.md §1 written out as plain loops. float64, 1e-12: the product sums in another
// order. The sizes cover one unit, ragged and full warps, and sequences shorter than, equal to and past the
// 8-step prefetch ring and not a multiple of it.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/sequence_warp_stream.h"
#include "kernels/leaky_rnn_persistent.cuh"
#include "rules/bptt/bptt_persistent.cuh"

namespace {

using torch_local_rnn::Nonlinearity;
using torch_local_rnn::WarpLane;
using torch_local_rnn::WarpSequenceParams;

// The GPU's warp on the CPU: every statement for lanes 0 .. 31 in turn, lane j's v read from its state (the
// shuffle). products() reads every lane's v before it sets any lane's acc, as the lanes in step do.
template <typename T, typename Cell>
struct EmulatedWarp {
  std::array<WarpLane<T, Cell>, 32> lanes{};
  template <typename F>
  void each(F&& f) {
    for (int lane = 0; lane < 32; ++lane) f(lane, lanes[lane]);
  }
  void products(bool any) {
    std::array<T, 32> acc{};
    for (int lane = 0; lane < 32; ++lane) {
      acc[lane] = any ? torch_local_rnn::warp_row_product(lanes[lane].row, [&](int j) { return lanes[j].v; }) : T(0);
    }
    for (int lane = 0; lane < 32; ++lane) lanes[lane].acc = acc[lane];
  }
};

template <typename Cell>
void run_emulated(const WarpSequenceParams<double, Cell>& p) {
  for (int64_t b = 0; b < p.B; ++b) {
    EmulatedWarp<double, Cell> warp;
    torch_local_rnn::run_warp_stream(p, b, warp);
  }
}

std::vector<double> normal(int64_t count, double scale, std::mt19937_64& gen) {
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> v(count);
  for (double& x : v) x = dist(gen);
  return v;
}

// phi(h) and phi'(h), written out (docs/algorithms.md §1), not common/activation.h's.
void phi(Nonlinearity f, double h, double& value, double& slope) {
  if (f == Nonlinearity::Tanh) {
    value = std::tanh(h);
    slope = 1 - value * value;
  } else if (f == Nonlinearity::Relu) {
    value = h > 0 ? h : 0;
    slope = h > 0 ? 1 : 0;
  } else {
    value = 1 / (1 + std::exp(-h));
    slope = value * (1 - value);
  }
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t e = 0; e < got.size(); ++e) ASSERT_NEAR(got[e], want[e], 1e-12) << what << " [" << e << "]";
}

struct Size {
  int T, B, n;
};
const Size kSizes[] = {{1, 1, 1}, {7, 2, 5}, {8, 1, 32}, {9, 3, 17}, {21, 2, 32}, {16, 1, 4}};

TEST(SequenceWarpEmulation, ForwardEqualsTheRecursion) {
  for (const Size& z : kSizes) {
    for (const Nonlinearity f : {Nonlinearity::Tanh, Nonlinearity::Relu, Nonlinearity::Sigmoid}) {
      for (const double alpha : {1.0, 0.3}) {
        std::mt19937_64 gen(1000 * z.T + 10 * z.n + z.B);
        const int64_t Bn = int64_t(z.B) * z.n;
        const std::vector<double> w = normal(int64_t(z.n) * z.n, 1.0 / std::sqrt(double(z.n)), gen);
        const std::vector<double> drive = normal(z.T * Bn, 1.0, gen), h0 = normal(Bn, 0.5, gen);
        // the recursion
        std::vector<double> want_out(z.T * Bn), want_dphi(z.T * Bn), a = h0;
        for (int t = 0; t < z.T; ++t) {
          std::vector<double> next(Bn);
          for (int b = 0; b < z.B; ++b) {
            for (int i = 0; i < z.n; ++i) {
              double h = drive[t * Bn + b * z.n + i];
              for (int j = 0; j < z.n; ++j) h += w[i * z.n + j] * a[b * z.n + j];
              double value, slope;
              phi(f, h, value, slope);
              next[b * z.n + i] = (1 - alpha) * a[b * z.n + i] + alpha * value;
              want_out[t * Bn + b * z.n + i] = next[b * z.n + i];
              want_dphi[t * Bn + b * z.n + i] = slope;
            }
          }
          a = next;
        }
        // the warp kernel's streams: `output` holds the drive on entry
        std::vector<double> out = drive, dphi(z.T * Bn, -1.0);
        const torch_local_rnn::kernels::LeakyForwardCell<double> cell{out.data(), dphi.data(), h0.data(), Bn, alpha,
                                                                      f};
        run_emulated(WarpSequenceParams<double, decltype(cell)>{w.data(), false, z.n, z.B, z.T, nullptr, cell});
        const std::string what = "forward T=" + std::to_string(z.T) + " B=" + std::to_string(z.B) +
                                 " n=" + std::to_string(z.n) + " f=" + std::to_string(int(f)) +
                                 " alpha=" + std::to_string(alpha);
        expect_near_all(out, want_out, what + " output");
        expect_near_all(dphi, want_dphi, what + " dphi");
      }
    }
  }
}

TEST(SequenceWarpEmulation, BpttAdjointEqualsTheRecursion) {
  for (const Size& z : kSizes) {
    for (const double alpha : {1.0, 0.3}) {
      std::mt19937_64 gen(7 + 1000 * z.T + 10 * z.n + z.B);
      const int64_t Bn = int64_t(z.B) * z.n;
      const std::vector<double> w = normal(int64_t(z.n) * z.n, 1.0 / std::sqrt(double(z.n)), gen);
      const std::vector<double> grad = normal(z.T * Bn, 1.0, gen), slope = normal(z.T * Bn, 0.5, gen);
      // delta_t = g_t + (1 - alpha) delta_{t+1} + W^T C_{t+1}, C_t = alpha phi'_t delta_t; delta_T = 0
      std::vector<double> want_credit(z.T * Bn), delta(Bn, 0.0);
      for (int t = z.T - 1; t >= 0; --t) {
        for (int b = 0; b < z.B; ++b) {
          for (int i = 0; i < z.n; ++i) {
            double d = grad[t * Bn + b * z.n + i];
            if (t + 1 < z.T) {
              d += (1 - alpha) * delta[b * z.n + i];
              for (int j = 0; j < z.n; ++j) d += w[j * z.n + i] * want_credit[(t + 1) * Bn + b * z.n + j];
            }
            delta[b * z.n + i] = d;
            want_credit[t * Bn + b * z.n + i] = alpha * slope[t * Bn + b * z.n + i] * d;
          }
        }
      }
      std::vector<double> credit(z.T * Bn, -1.0), last(Bn, -1.0);
      const torch_local_rnn::kernels::BpttAdjointCell<double> cell{credit.data(), grad.data(), slope.data(), Bn, z.T,
                                                                   alpha};
      run_emulated(WarpSequenceParams<double, decltype(cell)>{w.data(), true, z.n, z.B, z.T, last.data(), cell});
      const std::string what = "bptt T=" + std::to_string(z.T) + " B=" + std::to_string(z.B) +
                               " n=" + std::to_string(z.n) + " alpha=" + std::to_string(alpha);
      expect_near_all(credit, want_credit, what + " credit");
      expect_near_all(last, delta, what + " delta_1");
    }
  }
}

}  // namespace
