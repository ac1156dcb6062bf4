// The recursions the persistent sequence kernels run (docs/algorithms.md §1), written out as plain loops, and the
// checks of a kernel's body run on the CPU against them (test_sequence_warp.cpp, test_sequence_tiled.cpp), with
// the kernels' own cells (kernels/leaky_rnn_persistent.cuh, rules/bptt/bptt_persistent.cuh). float64, 1e-12: the
// kernels sum the products in another order.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/leaky_rnn_persistent.cuh"
#include "rules/bptt/bptt_persistent.cuh"

namespace sequence_recursions {

using torch_local_rnn::Nonlinearity;
using ForwardCell = torch_local_rnn::kernels::LeakyForwardCell<double>;
using AdjointCell = torch_local_rnn::kernels::BpttAdjointCell<double>;

struct Size {
  int T, B, n;
};

inline std::string describe(const Size& z) {
  return "T=" + std::to_string(z.T) + " B=" + std::to_string(z.B) + " n=" + std::to_string(z.n);
}

inline std::vector<double> normal(int64_t count, double scale, std::mt19937_64& gen) {
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> v(count);
  for (double& x : v) x = dist(gen);
  return v;
}

// phi(h) and phi'(h), written out (docs/algorithms.md §1), not common/activation.h's.
inline void phi(Nonlinearity f, double h, double& value, double& slope) {
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

inline void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t e = 0; e < got.size(); ++e) ASSERT_NEAR(got[e], want[e], 1e-12) << what << " [" << e << "]";
}

// The forward h_t = W a_{t-1} + drive_t, a_t = (1 - alpha) a_{t-1} + alpha phi(h_t) of random W, drive and a_0
// against `run(cell, w)`, which runs the kernel's body with `cell` (its output holds the drive on entry) and the
// row-major W.
template <typename Run>
void expect_forward(const Size& z, Nonlinearity f, double alpha, uint64_t seed, const std::string& what, Run run) {
  std::mt19937_64 gen(seed);
  const int64_t Bn = int64_t(z.B) * z.n;
  const std::vector<double> w = normal(int64_t(z.n) * z.n, 1.0 / std::sqrt(double(z.n)), gen);
  const std::vector<double> drive = normal(z.T * Bn, 1.0, gen), h0 = normal(Bn, 0.5, gen);
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
  std::vector<double> out = drive, dphi(z.T * Bn, -1.0);
  run(ForwardCell{out.data(), dphi.data(), h0.data(), Bn, alpha, f}, w.data());
  const std::string full = what + " forward " + describe(z) + " f=" + std::to_string(int(f)) +
                           " alpha=" + std::to_string(alpha);
  expect_near_all(out, want_out, full + " output");
  expect_near_all(dphi, want_dphi, full + " dphi");
}

// BPTT's adjoint delta_t = g_t + (1 - alpha) delta_{t+1} + W^T C_{t+1}, C_t = alpha phi'_t delta_t (delta_T = 0)
// of random W, g and phi' against `run(cell, w, last)`, which runs the kernel's body with `cell`, W (used
// transposed) and `last` (delta_1 on exit).
template <typename Run>
void expect_adjoint(const Size& z, double alpha, uint64_t seed, const std::string& what, Run run) {
  std::mt19937_64 gen(seed);
  const int64_t Bn = int64_t(z.B) * z.n;
  const std::vector<double> w = normal(int64_t(z.n) * z.n, 1.0 / std::sqrt(double(z.n)), gen);
  const std::vector<double> grad = normal(z.T * Bn, 1.0, gen), slope = normal(z.T * Bn, 0.5, gen);
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
  run(AdjointCell{credit.data(), grad.data(), slope.data(), Bn, z.T, alpha}, w.data(), last.data());
  const std::string full = what + " bptt " + describe(z) + " alpha=" + std::to_string(alpha);
  expect_near_all(credit, want_credit, full + " credit");
  expect_near_all(last, delta, full + " delta_1");
}

}  // namespace sequence_recursions
