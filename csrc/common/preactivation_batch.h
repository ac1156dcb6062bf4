// What the forward hands a policy's batch form of its pre-activations (common/online_step.h's
// Exec::preactivations; the GPU grid's tiles: common/preactivation_tiles.h), apart from the tiles so that the
// CPU's step, which has no batch form, does not depend on them.
#pragma once

#include <cstdint>

namespace torch_local_rnn {

// h[b, i] = bias[i] + W_hh[i, :] v[b, :] + W_ih[i, :] x[b, :] into out[b * n + i], for b < B, i < n.
template <typename T>
struct PreactivationBatch {
  int64_t B, n, I;
  const T *w_hh, *w_ih, *bias, *v, *x;  // w_hh (n, n), w_ih (n, I), v (B, n) states, x (B, I) inputs
  T* out;
};

}  // namespace torch_local_rnn
