// The variance-balancing rescaling rho of the stochastic factored approximations of RTRL (UORO,
// KF-RTRL, R-KF-RTRL; docs/algorithms.md §3.3-3.5), framework-free and host-device for the shared step
// (rules/factored/factored_step.h).
#pragma once

#include <cmath>

#include "../../common/activation.h"  // TLR_HOST_DEVICE

namespace torch_local_rnn {

// One rescaling factor rho = sqrt(num / den) of the factored update
//   X <- rho0 X_f + rho1 nu-term,   Y <- Y_f / rho0 + nu-term' / rho1,
// which balances the two factors' norms (minimal variance). `fixed` > 0 overrides it (P0 / P1);
// epsilon > 0 is UORO's forward-difference form sqrt(num / (den + eps)) + eps. A term whose norms
// vanish is exactly zero and is dropped (used = false) instead of producing 0/0 (e.g. the first
// step of a sequence, where the influence is exactly 0).
template <typename scalar_t>
struct Rho {
  scalar_t value;
  bool used;
};

template <typename scalar_t>
TLR_HOST_DEVICE Rho<scalar_t> balance(scalar_t num, scalar_t den, double fixed, double epsilon) {
  if (fixed > 0) return {static_cast<scalar_t>(fixed), true};
  if (epsilon > 0) return {std::sqrt(num / (den + static_cast<scalar_t>(epsilon))) + static_cast<scalar_t>(epsilon),
                           true};
  if (num > 0 && den > 0) return {std::sqrt(num / den), true};
  return {scalar_t(1), false};
}

}  // namespace torch_local_rnn
