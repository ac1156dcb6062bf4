// Nonlinearities of the leaky RNN (docs/algorithms.md §1: tanh in the papers; relu and sigmoid too).
// Header-only and framework-free so CPU loops and CUDA kernels share one definition.
#pragma once

#include <cmath>
#include <string>
#include <type_traits>

#if defined(__CUDACC__)
#define TLR_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define TLR_HOST_DEVICE inline
#endif
// A loop of host-device code that the GPU build unrolls (so that its array indices are constants and the arrays
// stay in registers); the host compiler takes the loop as it is.
#if defined(__CUDA_ARCH__)
#define TLR_UNROLL _Pragma("unroll")
#else
#define TLR_UNROLL
#endif
// The per-unit functions below are inlined on the host too (as __forceinline__ does on the device): a loop over
// the units vectorises only if no call is left in it (the online step's activation phase, common/online_step.h).
#if defined(__CUDACC__)
#define TLR_UNIT TLR_HOST_DEVICE
#else
#define TLR_UNIT inline __attribute__((always_inline))
#endif

namespace torch_local_rnn {

enum class Nonlinearity : int { Tanh = 0, Relu = 1, Sigmoid = 2 };

// tanh of a float on the host, evaluated in double without a call or a branch, so that a loop over it
// vectorises (the online step's activation phase, common/online_step.h; docs/design.md §3.1): libm's tanh
// (the double one, which `tanh(float)` called here before) is a call of ~15 ns per unit, half a microsecond of
// a 32-unit step. With r = 2|x| / 64: u = expm1(r) by its Taylor polynomial to degree 9, six doublings
// expm1(2z) = u (2 + u) (each at most doubles u's relative error), and tanh|x| = u / (u + 2). For |x| < 11
// (r < 0.35) the remainder is below 2e-11 of u, so below 1.3e-9 after the doublings, a fiftieth of float's
// half-ulp; past 11, tanh rounds to 1 whatever u's error (t = 1 - 2 / (u + 2)). Rounded to float it is the
// correctly rounded tanh on every float tried (tests/cpp/test_activation.cpp: every 7th float of |x| < 11,
// both signs, and all larger ones; degree 6 was off on 212 of those), so it equals what it replaces (the double
// tanh rounded to float) but for the rare double roundings. A u that overflows (|x| > 354) or passes 1e300
// selects 1; NaN stays NaN (u > 1e300 is false); the sign is copied back, so tanh(-0) = -0.
// The only select must not be a branch: GCC if-converts it (and so vectorises the loop) when the
// comparison may not trap, hence -fno-trapping-math (CMakeLists.txt; no value changes, only code motion).
inline __attribute__((always_inline)) float tanh_float_host(float value) {  // host only
  const double x = value;
  const double r = std::fabs(x) * (2.0 / 64.0);
  double p = 1.0 + r * (1.0 / 9);
  p = 1.0 + r * (1.0 / 8) * p;
  p = 1.0 + r * (1.0 / 7) * p;
  p = 1.0 + r * (1.0 / 6) * p;
  p = 1.0 + r * (1.0 / 5) * p;
  p = 1.0 + r * (1.0 / 4) * p;
  p = 1.0 + r * (1.0 / 3) * p;
  p = 1.0 + r * (1.0 / 2) * p;
  double u = r * p;  // expm1(2|x| / 64)
  u = u * (2.0 + u);
  u = u * (2.0 + u);
  u = u * (2.0 + u);
  u = u * (2.0 + u);
  u = u * (2.0 + u);
  u = u * (2.0 + u);  // expm1(2|x|)
  double t = u / (u + 2.0);
  t = u > 1e300 ? 1.0 : t;
  return static_cast<float>(std::copysign(t, x));
}

// tanh(h): libm's for double (and on the device); tanh_float_host for a float on the host.
template <typename T>
TLR_UNIT T tanh_value(T h) {
#if !defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, float>) return tanh_float_host(h);
#endif
  return tanh(h);
}

// phi(h)
template <typename T>
TLR_UNIT T activate(Nonlinearity f, T h) {
  switch (f) {
    case Nonlinearity::Tanh: return tanh_value(h);
    case Nonlinearity::Relu: return h > T(0) ? h : T(0);
    default: return T(1) / (T(1) + exp(-h));
  }
}

// phi'(h) written in terms of y = phi(h), so the pre-activation need not be stored.
// relu'(0) is taken as 0, like torch.relu's autograd.
template <typename T>
TLR_UNIT T derivative_from_value(Nonlinearity f, T y) {
  switch (f) {
    case Nonlinearity::Tanh: return T(1) - y * y;
    case Nonlinearity::Relu: return y > T(0) ? T(1) : T(0);
    default: return y * (T(1) - y);
  }
}

// One unit's leaky update from its pre-activation h (docs/algorithms.md §1), with phi'(h_t) from y = phi(h):
//   a_t = (1 - alpha) a_{t-1} + alpha phi(h_t).
// Every forward path (the sequence forward on both backends, the online step) calls this, so they
// round identically.
template <typename T>
TLR_UNIT void leaky_unit(Nonlinearity f, T alpha, T prev, T h, T& state, T& dphi) {
  const T y = activate(f, h);
  state = (T(1) - alpha) * prev + alpha * y;
  dphi = derivative_from_value(f, y);
}

// Readout losses of the online learners (docs/algorithms.md §1): softmax cross-entropy or MSE.
// Mse: e = z - y, the gradient of 1/2 sum_k (the papers' quirk, n_out times the gradient of the
// reported 1/2 mean); MseMean: e = (z - y) / n_out, the gradient of the reported loss (docs/algorithms.md §1, §9
// mse_grad_convention). Both report L = 1/2 mean_k (z_k - y_k)^2.
enum class Loss : int { CrossEntropy = 0, Mse = 1, MseMean = 2 };

// Parse the user's names; the error lists what is accepted (defined in common/parse.cpp).
Nonlinearity parse_nonlinearity(const std::string& name, const char* op);
Loss parse_loss(const std::string& name, const char* op);

}  // namespace torch_local_rnn
