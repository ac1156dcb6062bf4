// Nonlinearities of the leaky RNN (docs/algorithms.md §1: tanh in the papers; relu and sigmoid too).
// Header-only and framework-free so CPU loops and CUDA kernels share one definition.
#pragma once

#include <cmath>
#include <string>

#if defined(__CUDACC__)
#define TLR_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define TLR_HOST_DEVICE inline
#endif

namespace torch_local_rnn {

enum class Nonlinearity : int { Tanh = 0, Relu = 1, Sigmoid = 2 };

// phi(h)
template <typename T>
TLR_HOST_DEVICE T activate(Nonlinearity f, T h) {
  switch (f) {
    case Nonlinearity::Tanh: return tanh(h);
    case Nonlinearity::Relu: return h > T(0) ? h : T(0);
    default: return T(1) / (T(1) + exp(-h));
  }
}

// phi'(h) written in terms of y = phi(h), so the pre-activation need not be stored.
// relu'(0) is taken as 0, like torch.relu's autograd.
template <typename T>
TLR_HOST_DEVICE T derivative_from_value(Nonlinearity f, T y) {
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
TLR_HOST_DEVICE void leaky_unit(Nonlinearity f, T alpha, T prev, T h, T& state, T& dphi) {
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
