// The network, readout and per-step activity of an online learner as raw row-major pointers:
// the POD shared by the CPU loops (cpu/online_step_cpu.h) and the CUDA kernels
// (kernels/online_step.cuh). Framework-free, so the CUDA kernels can include it.
#pragma once

#include <cstdint>

#include "activation.h"
#include "online_optimizer.h"

namespace torch_local_rnn {

// Network and readout weights (updated in place) and the step's hyper-parameters.
template <typename T>
struct OnlineNet {
  int64_t B, n, I, O;  // streams, hidden units, inputs, outputs
  T* weight_hh;        // (n, n)
  T* weight_ih;        // (n, I)
  T* bias;             // (n)
  T* weight_out;       // (O, n)
  T* bias_out;         // (O)
  const T* feedback;   // (O, n): W_FB, or weight_out itself for symmetric feedback
  T alpha, lr;
  Nonlinearity f;
  Loss loss;
  // L2 (docs/algorithms.md §2.1 4d): W <- W - lr (G + l2 W) for W_hh, W_ih, W_out. `decay` (n (n + I)) holds this
  // step's W_hh, W_ih before the rule's in-place update, so the decay uses the old weights; null
  // when l2 = 0 or when another optimiser than sgd adds the L2 term itself.
  T l2 = 0;
  T* decay = nullptr;
  // The optimiser (common/online_optimizer.h; sgd: the rules apply lr G themselves) and an optional per-step
  // learning rate (steps): lr_schedule[t] replaces lr at step t of this call.
  OnlineOptimizer<T> opt;
  const T* lr_schedule = nullptr;
  // The credit mode (docs/algorithms.md §2.8): q_t = dL_t/da_t given per step (steps, B, n) by a caller whose
  // readout and loss are its own; the loop then neither evaluates nor updates the readout (losses are 0).
  const T* credit = nullptr;
};

// Per-step activity, each (B, .).
template <typename T>
struct OnlineActivity {
  T* prev;   // a_{t-1}   (B, n)
  T* state;  // a_t       (B, n)
  T* dphi;   // phi'(h_t) (B, n)
  T* error;  // z_t, then e_t = dL_t/dz_t (B, O)
  T* q;      // q_t = feedback^T e_t (B, n)
  const T* label = nullptr;  // y*_t (B, O), set by the loop each step (DNI's synthetic-gradient input)
  int64_t t = 0;             // index of the step within this call (rows of the per-step rule_tensors)
};

}  // namespace torch_local_rnn
