// Exact BPTT's adjoint as a cell of the persistent sequence kernels (kernels/sequence_warp.cuh,
// kernels/sequence_persistent.cuh; host-device, so the C++ tests run the warp kernel's stream with it), the
// recursion of common/exact_sequence.h in reverse time, step s handling t = T - 1 - s:
//   delta_t = g_t + (1 - alpha) delta_{t+1} + (W_hh^T C_{t+1}),   C_t = alpha phi'(h_t) (.) delta_t,
// with delta_T = 0 and no product at the last step. The kernel's matrix is W_hh transposed; delta is the
// carried register, written to `last` at the end (delta_1, for dL/da_0).
#pragma once

#include <cstdint>

#include "../../common/activation.h"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct BpttAdjointCell {
  T* credit;        // (T, B, n): C_t
  const T* grad;    // (T, B, n): g_t = dL/da_t
  const T* dphi;    // (T, B, n): phi'(h_t)
  int64_t Bn;
  int steps;
  T alpha;

  struct Inputs {
    T grad, slope;
  };
  TLR_HOST_DEVICE int time(int s) const { return steps - 1 - s; }
  TLR_HOST_DEVICE const T* source(int s) const { return s == 0 ? nullptr : credit + (time(s) + 1) * Bn; }
  TLR_HOST_DEVICE bool source_is_input(int) const { return false; }
  TLR_HOST_DEVICE T initial(int64_t) const { return T(0); }
  TLR_HOST_DEVICE Inputs load(int s, int64_t k) const {
    const int64_t at = time(s) * Bn + k;
    return {grad[at], dphi[at]};
  }
  struct Outputs {
    T credit;
    TLR_HOST_DEVICE T value() const { return credit; }
  };
  TLR_HOST_DEVICE Outputs finish(int s, T acc, const Inputs& in, T& delta) const {
    const T carry = s == 0 ? T(0) : T(1) - alpha;
    delta = in.grad + carry * delta + acc;
    return {alpha * in.slope * delta};
  }
  TLR_HOST_DEVICE void store(int s, int64_t k, const Outputs& out) const { credit[time(s) * Bn + k] = out.credit; }
};

}  // namespace kernels
}  // namespace torch_local_rnn
