// The leaky-RNN forward as a cell of the persistent sequence kernels (kernels/sequence_warp.cuh,
// kernels/sequence_persistent.cuh; docs/algorithms.md §1; host-device, so the C++ tests run the warp kernel's
// stream with it):
//   h_t = W_hh a_{t-1} + (W_ih x_t + b),   a_t = (1 - alpha) a_{t-1} + alpha phi(h_t),   dphi_t = phi'(h_t).
// The input drive W_ih x_t + b of all steps is one GEMM before the launch, written into `output`, which each
// step overwrites with a_t; a_{t-1} of the lane's own unit is carried in a register.
#pragma once

#include <cstdint>

#include "../common/activation.h"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct LeakyForwardCell {
  T* output;     // (T, B, n): the drive on entry, a_t on exit
  T* dphi;       // (T, B, n): phi'(h_t)
  const T* h0;   // (B, n): a_0
  int64_t Bn;
  T alpha;
  Nonlinearity f;

  struct Inputs {
    T drive;
  };
  TLR_HOST_DEVICE const T* source(int s) const { return s == 0 ? h0 : output + (s - 1) * Bn; }
  TLR_HOST_DEVICE bool source_is_input(int s) const { return s == 0; }
  TLR_HOST_DEVICE T initial(int64_t k) const { return h0[k]; }
  TLR_HOST_DEVICE Inputs load(int s, int64_t k) const { return {output[s * Bn + k]}; }
  struct Outputs {
    T state, slope;
    TLR_HOST_DEVICE T value() const { return state; }
  };
  TLR_HOST_DEVICE Outputs finish(int, T acc, const Inputs& in, T& prev) const {
    Outputs out;
    leaky_unit(f, alpha, prev, in.drive + acc, out.state, out.slope);
    prev = out.state;
    return out;
  }
  TLR_HOST_DEVICE void store(int s, int64_t k, const Outputs& out) const {
    output[s * Bn + k] = out.state;
    dphi[s * Bn + k] = out.slope;
  }
};

}  // namespace kernels
}  // namespace torch_local_rnn
