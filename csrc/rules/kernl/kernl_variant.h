// KeRNL's version switch (docs/algorithms.md §3.7, §9 kernl_version), framework-free so the CPU loops and
// the CUDA kernels evaluate the same expressions:
//   2020          k = max(0, 1 - a~),  Gamma <- k Gamma - Omega,    Omega <- k Omega + zeta
//   2019-approx   k = max(0, 1 - a~),  Gamma <- k Gamma - Omega,    Omega <- k Omega + (1 - k) zeta
//   2019-exact    k = exp(-a~),        Gamma <- k (Gamma - Omega),  Omega <- k Omega + (1 - k) zeta
// (a~ the learned rates), and learned_alpha_e: the trace's immediate term (1 - k) phi'(h) ahat^T
// instead of alpha phi'(h) ahat^T.
#pragma once

#include "../../common/activation.h"

namespace torch_local_rnn {

enum class KernlVersion : int { V2020 = 0, V2019Approx = 1, V2019Exact = 2 };

// k from the rate; max(0, 1 - rate) is written so that a NaN rate gives 0 on both backends.
template <typename T>
TLR_HOST_DEVICE T kernl_kernel(KernlVersion v, T rate) {
  if (v == KernlVersion::V2019Exact) return exp(-rate);
  const T k = T(1) - rate;
  return T(0) < k ? k : T(0);
}

// Gamma (d Omega / d a~) and Omega after the new noise zeta, in place.
template <typename T>
TLR_HOST_DEVICE void kernl_filters(KernlVersion v, T k, T zeta, T& gamma, T& omega) {
  gamma = v == KernlVersion::V2019Exact ? k * (gamma - omega) : k * gamma - omega;
  omega = k * omega + (v == KernlVersion::V2020 ? zeta : (T(1) - k) * zeta);
}

// The factor of phi'(h_t) ahat_t^T in the trace update.
template <typename T>
TLR_HOST_DEVICE T kernl_immediate(bool learned_alpha_e, T alpha, T k) {
  return learned_alpha_e ? T(1) - k : alpha;
}

}  // namespace torch_local_rnn
