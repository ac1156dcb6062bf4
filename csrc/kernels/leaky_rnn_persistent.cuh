// The leaky-RNN forward as a cell of the persistent sequence kernels (kernels/sequence_warp.cuh,
// kernels/sequence_persistent.cuh; docs/algorithms.md §1):
//   h_t = W_hh a_{t-1} + (W_ih x_t + b),   a_t = (1 - alpha) a_{t-1} + alpha phi(h_t),   dphi_t = phi'(h_t).
// The input drive W_ih x_t + b of all steps is one GEMM before the launch, written into `output`, which each
// step overwrites with a_t; a_{t-1} of the lane's own unit is carried in a register.
#pragma once

#include "../common/activation.h"
#include "sequence_persistent.cuh"

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
  __device__ const T* source(int s) const { return s == 0 ? h0 : output + (s - 1) * Bn; }
  __device__ bool source_is_input(int s) const { return s == 0; }
  __device__ T initial(int64_t k) const { return h0[k]; }
  __device__ Inputs load(int s, int64_t k) const { return {output[s * Bn + k]}; }
  struct Outputs {
    T state, slope;
    __device__ T value() const { return state; }
  };
  __device__ Outputs finish(int, T acc, const Inputs& in, T& prev) const {
    Outputs out;
    leaky_unit(f, alpha, prev, in.drive + acc, out.state, out.slope);
    prev = out.state;
    return out;
  }
  __device__ void store(int s, int64_t k, const Outputs& out) const {
    output[s * Bn + k] = out.state;
    dphi[s * Bn + k] = out.slope;
  }
};

}  // namespace kernels
}  // namespace torch_local_rnn
