// One online training step, written once for both backends, in the order of docs/algorithms.md §2.1:
// forward with the current weights, readout and loss, the immediate credit q_t, then the rule's traces
// and recurrent update (Rule::step), then the readout's SGD step and the L2 term. The per-element math
// is here; the execution policy `Exec` says how a phase's elements are spread (Exec::loop over a range,
// Exec::loop2 over the (row, column) pairs of a row-major block) and how phases are ordered:
//   CPU  (CpuExec, cpu/online_step_cpu.h): the elements run on the calling thread, nested loops for
//        loop2 (no index division per element), or with at::parallel_for when the phase is big
//        enough; Exec::sync is a no-op;
//   CUDA (BlockExec, kernels/online_step.cuh): the threads of one block share the elements,
//        Exec::sync is __syncthreads() (one persistent block runs the whole loop: docs/design.md §3.1);
//        (GridExec, kernels/online_grid_step.cuh): every thread of a cooperative grid, Exec::sync a grid
//        barrier (large networks: docs/design.md §3.7).
// The policy's whole contract, which every shared step (this file and csrc/rules/<rule>/*_step.h) keeps to:
//   Exec::loop(count, work, f(k))              f for k in [0, count), in any order and concurrently;
//   Exec::loop2(rows, cols, work, f(r, c))     the same over the (r, c) pairs of a rows x cols block;
//   Exec::loop_owned(rows, inner, cols, work, f(r, k, c))
//                                              one worker owns each (r, c) and runs k = 0, 1, ... in order,
//                                              so f may accumulate into an element of (r, c) over k without a
//                                              reduction (CPU: rows r in parallel, then k, then c, so c is
//                                              the contiguous inner loop; GPU: one thread per (r, c));
//   Exec::loop_owned3(rows, inner, c0, c1, c2, work, f0, f1, f2)
//                                              loop_owned over three column blocks of one matrix at once
//                                              (CPU: one pass over the rows, the three blocks of a row together);
//   Exec::loop_owned3_acc(rows, inner, c0, c1, c2, work, w0, f0, w1, f1, w2, f2)
//                                              loop_owned3 where each owned (r, c) has one accumulator, the
//                                              element w_b(r, c) (a T& into memory) names, and stream k's work
//                                              comes in two stages: f_b(r, k, c) does its reads and returns
//                                              the update u, and u(T& w) does its writes and moves w. A stage
//                                              f may read nothing that an update of the phase writes, except
//                                              the entries its own u then writes. CPU: f_b(r, k, c)(w) on the
//                                              memory element itself, in loop_owned3's loops (same code, same
//                                              rounding as one lambda doing both); GPU: w is a register, loaded
//                                              once before the k loop and stored once after it, and the reads
//                                              of kOwnedStreamsInFlight streams (with fewer than 4 streams, of
//                                              4 elements, stream by stream) are issued before their updates run
//                                              in k order, so that many loads per thread are in flight instead
//                                              of one memory round trip per stream (common/team_loops.h);
//   Exec::matmul(M, N, K, A, lda, B, ldb, C, ldc)
//                                              C = A B, row-major (M x K)(K x N), C must not alias A or B
//                                              (CPU: BLAS; GPU: one thread per entry of C, k in order);
//   Exec::sums(rows, count, f(r, k), out)      out[r] = sum_k f(r, k), in a fixed order on each backend
//                                              (CPU: dot()'s eight partial sums; GPU: a warp per row, a fixed
//                                              shuffle tree);
//   Exec::preactivations(batch)                (optional, with a constexpr bool kBatchPreactivations = true) the
//                                              forward's pre-activations of the whole batch
//                                              (common/preactivation_batch.h) in
//                                              preactivation<kRotatedRows>'s order, or false where it does not
//                                              run and the forward's per-element loop does (GPU grid: tiles of
//                                              units x streams staged in shared memory, docs/design.md §3.7);
//   Exec::sync()                               every write of the phases before is visible after;
//   Exec::Index                                the integer type the loops pass their indices in, and the one
//                                              the step computes its indices in (IndexOf<Exec>): int64_t on
//                                              the CPU and the grid, int32_t in the GPU's one-block and member
//                                              kernels, which run only calls whose indices all fit
//                                              (docs/design.md §3.7); counts reach the loops as int64_t;
//   Exec::kRotatedRows                         (a constexpr bool) whether a row of weights one element reads
//                                              whole (its pre-activation: common/dot.h's preactivation) is
//                                              summed in an order permuted by the row (dot_rotated; GPU:
//                                              true, so a warp's loads spread over the shared-memory banks)
//                                              or in dot()'s (CPU: its vectorised loop);
//   Exec::kOptionPaths                         (optional, a constexpr bool, true when absent) whether the
//                                              steps carry the per-call options' paths: an optimiser other
//                                              than sgd, the L2 decay, a learning-rate schedule, the credit
//                                              mode (captures_gradients, option below). The GPU builds its
//                                              online kernels twice, with and without (docs/design.md §3.7).
// `work` is the multiply-adds per item: the CPU stays on the calling thread below kWorkGrain in all.
// Within one phase no element may read what another element of it writes; the GPU runs them at once.
//
// Raw loops over preallocated buffers: at n = 32, B = 1 (the papers' setting) a step is a few
// thousand flops, so any framework call or allocation would dominate it.
//
// Coherence on the GPU: weights are read and written inside the kernel (feedback may even alias
// weight_out), so nothing here is __restrict__ or read through the read-only cache; Exec::sync()
// orders plain global and shared accesses within the block (BlockExec) or the grid (GridExec). A value
// every thread reads (a rule's step counter) is read before a sync and written only after one, so all
// threads see the same value and take the same branches (GridExec's barrier must be reached by all).
#pragma once

#include <cstdint>
#include <type_traits>

#include "activation.h"
#include "dot.h"
#include "online_net.h"
#include "preactivation_batch.h"

// Host and device: each template is instantiated with a CPU policy (host) or a GPU policy (device).
#if defined(__CUDACC__)
#define TLR_STEP __host__ __device__ inline
#else
#define TLR_STEP inline
#endif
// A per-element lambda the CPU must inline into its policy's loop for that loop to vectorise (GCC's heuristics
// leave a big body, such as the activation phase's tanh, as a call; docs/design.md §1.4).
#if defined(__CUDACC__) || !defined(__GNUC__)
#define TLR_INLINE_ELEMENT
#else
#define TLR_INLINE_ELEMENT __attribute__((always_inline))
#endif

namespace torch_local_rnn {

// The index type of a policy's loops (Exec::Index above). An index formed from the step t (x_t's offset, a
// per-step record's row) stays int64_t: it grows with the call's length, not with the network's size.
template <typename Exec>
using IndexOf = typename Exec::Index;

// Exec::kOptionPaths, true unless the policy sets it false.
template <typename Exec, typename = void>
struct OptionPathsOf {
  static constexpr bool value = true;
};
template <typename Exec>
struct OptionPathsOf<Exec, std::void_t<decltype(Exec::kOptionPaths)>> {
  static constexpr bool value = Exec::kOptionPaths;
};

// Exec::kBatchPreactivations, false unless the policy sets it true.
template <typename Exec, typename = void>
struct BatchPreactivationsOf {
  static constexpr bool value = false;
};
template <typename Exec>
struct BatchPreactivationsOf<Exec, std::void_t<decltype(Exec::kBatchPreactivations)>> {
  static constexpr bool value = Exec::kBatchPreactivations;
};

// A policy built without the options' paths runs only calls that use none of them (plain_online_options,
// checked before its launch), so there these are compile-time constants and the paths are dead code: ptxas
// allocates a kernel's registers for its most demanding path, and the optimiser's, L2's and the credit mode's
// cost the papers' plain sgd step registers and spills (docs/design.md §3.7).
template <typename Exec, typename T>
TLR_STEP bool captures_gradients(const OnlineNet<T>& net) {
  if constexpr (OptionPathsOf<Exec>::value) {
    return net.opt.captures();
  } else {
    return false;
  }
}
// An option's buffer (net.decay, net.lr_schedule, net.credit): null under a policy without the options' paths
// (whose calls have l2 = 0 too: the readout's decay is gated the same way).
template <typename Exec, typename P>
TLR_STEP P* option(P* buffer) {
  if constexpr (OptionPathsOf<Exec>::value) {
    return buffer;
  } else {
    return nullptr;
  }
}
// Whether a call uses none of the options' paths, so that a policy without them may run it (host).
template <typename T>
inline bool plain_online_options(const OnlineNet<T>& net) {
  return !net.opt.captures() && net.decay == nullptr && net.lr_schedule == nullptr && net.credit == nullptr &&
         net.l2 == T(0);
}

// prev, state, dphi, q: B*n each; error: B*O.
TLR_STEP int64_t online_activity_numel(int64_t B, int64_t n, int64_t O) { return 4 * B * n + B * O; }

template <typename T>
TLR_STEP OnlineActivity<T> carve_online_activity(T* base, int64_t B, int64_t n) {
  const int64_t Bn = B * n;
  return {base, base + Bn, base + 2 * Bn, base + 4 * Bn, base + 3 * Bn};
}

// a_t and phi'(h_t) from h_t, held in dphi (overwritten), for `count` units: one phase of elementwise work with
// the nonlinearity F fixed, so the CPU's loop has no call, branch or switch in it and vectorises
// (tanh_float_host for float, common/activation.h). A function of its own on the CPU: inlined into the step
// loop, GCC's earlier passes leave control flow in the loop and it stays scalar (a quarter of RFLO's step at
// the papers' size); alone it vectorises. Being outside the step's AVX2 copy (docs/design.md §1.6), it has copies
// of its own on x86-64 with GCC: AVX2 and the baseline, chosen at load time (target_clones). Neither has FMA, so
// they round alike.
#if defined(__CUDACC__) || !defined(__GNUC__)
#define TLR_OWN_FUNCTION
#elif defined(__x86_64__) && !defined(__clang__)
#define TLR_OWN_FUNCTION __attribute__((noinline, target_clones("avx2", "default")))
#else
#define TLR_OWN_FUNCTION __attribute__((noinline))
#endif
template <typename Exec, Nonlinearity F, typename T>
TLR_STEP TLR_OWN_FUNCTION void leaky_units(T alpha, const T* prev, int64_t count, T* state, T* dphi) {
  Exec::loop(count, 1, [=](IndexOf<Exec> r) TLR_INLINE_ELEMENT {
    leaky_unit(F, alpha, prev[r], dphi[r], state[r], dphi[r]);
  });
}

// h_t = W_hh a_{t-1} + W_ih x_t + b; a_t = (1 - alpha) a_{t-1} + alpha phi(h_t); keeps phi'(h_t). Two phases:
// the pre-activations (one element per (b, i), or the policy's batch form where it has one, into act.dphi), then
// the units. At the papers' size the nonlinearity was a third of the CPU's step when each unit's tanh was a libm
// call inside the dot products' loop (docs/design.md §3.1); apart, the second phase is one vectorised loop.
template <typename Exec, typename T>
TLR_STEP void online_forward(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) {
  using Index = IndexOf<Exec>;
  const Index n = Index(net.n), I = Index(net.I), Bn = Index(net.B) * n;
  const T *const w_hh = net.weight_hh, *const w_ih = net.weight_ih, *const bias = net.bias, *const prev = act.prev;
  T *const pre = act.dphi, *const state = act.state;
  bool batched = false;
  if constexpr (BatchPreactivationsOf<Exec>::value) {
    batched = Exec::preactivations(PreactivationBatch<T>{net.B, net.n, net.I, w_hh, w_ih, bias, prev, x, pre});
  }
  if (!batched) {
    Exec::loop2(net.B, n, n + I, [=](Index b, Index i) {
      pre[b * n + i] = preactivation<Exec::kRotatedRows>(w_hh, w_ih, bias, n, I, i, prev + b * n, x + b * I);
    });
  }
  Exec::sync();
  switch (net.f) {
    case Nonlinearity::Tanh: leaky_units<Exec, Nonlinearity::Tanh>(net.alpha, prev, Bn, state, pre); break;
    case Nonlinearity::Relu: leaky_units<Exec, Nonlinearity::Relu>(net.alpha, prev, Bn, state, pre); break;
    default: leaky_units<Exec, Nonlinearity::Sigmoid>(net.alpha, prev, Bn, state, pre); break;
  }
}

// z_t = W_out a_t + b_out into act.error; one element per (b, o).
template <typename Exec, typename T>
TLR_STEP void online_logits(const OnlineNet<T>& net, const OnlineActivity<T>& act) {
  using Index = IndexOf<Exec>;
  const Index n = Index(net.n), O = Index(net.O);
  Exec::loop2(net.B, O, n, [&](Index b, Index o) {
    act.error[b * O + o] = net.bias_out[o] + dot(net.weight_out + o * n, act.state + b * n, n);
  });
}

// The loss and e_t = dL_t/dz_t from z_t, one element per stream (O is small: 2 in the Add task):
//   cross-entropy: L = -sum_k y_k log(max(softmax(z)_k, 1e-4)), e = softmax(z) - y
//                  (max-subtracted softmax; the floor is in the loss only, docs/algorithms.md §1, §7);
//   mse:           L = 1/2 mean_k (z_k - y_k)^2, e = z - y (the gradient of 1/2 sum: the papers' quirk);
//   mse_mean:      the same L, e = (z - y) / O (the gradient of the reported loss).
template <typename Exec, typename T>
TLR_STEP void online_loss(const OnlineNet<T>& net, const T* y, const OnlineActivity<T>& act, T* loss) {
  using Index = IndexOf<Exec>;
  const Index O = Index(net.O);
  Exec::loop(net.B, 4 * O, [&](Index b) {
    T* e = act.error + b * O;
    const T* yb = y + b * O;
    T l = 0;
    if (net.loss == Loss::CrossEntropy) {
      T zmax = e[0];
      for (Index o = 1; o < O; ++o) zmax = e[o] > zmax ? e[o] : zmax;
      T total = 0;
      for (Index o = 0; o < O; ++o) total += (e[o] = exp(e[o] - zmax));
      for (Index o = 0; o < O; ++o) {
        const T p = e[o] / total;
        l -= yb[o] * log(p > T(1e-4) ? p : T(1e-4));
        e[o] = p - yb[o];
      }
    } else {
      for (Index o = 0; o < O; ++o) {
        e[o] -= yb[o];
        l += e[o] * e[o];
      }
      l *= T(0.5) / T(O);
      if (net.loss == Loss::MseMean) {
        for (Index o = 0; o < O; ++o) e[o] /= T(O);
      }
    }
    loss[b] = l;
  });
}

// q_t = feedback^T e_t: the output error carried back to the hidden units (W_out^T, or W_FB^T for
// feedback alignment); one element per (b, i).
template <typename Exec, typename T>
TLR_STEP void online_credit(const OnlineNet<T>& net, const OnlineActivity<T>& act) {
  using Index = IndexOf<Exec>;
  const Index n = Index(net.n), O = Index(net.O);
  Exec::loop2(net.B, n, O, [&](Index b, Index i) {
    const T* e = act.error + b * O;
    T q = 0;
    for (Index o = 0; o < O; ++o) q += net.feedback[o * n + i] * e[o];
    act.q[b * n + i] = q;
  });
}

// The readout's delta rule averaged over streams: W_out -= lr/B sum_b e_b a_b^T (+ lr l2 W_out, not on
// b_out), b_out -= lr/B sum_b e_b. One element owns one weight, so the sum over b needs no reduction;
// the weights and the biases are disjoint, so one phase updates both.
template <typename Exec, typename T>
TLR_STEP void online_readout_sgd(const OnlineNet<T>& net, const OnlineActivity<T>& act) {
  using Index = IndexOf<Exec>;
  const Index n = Index(net.n), O = Index(net.O), B = Index(net.B);
  const T step = net.lr / T(net.B), shrink = net.lr * net.l2;
  Exec::loop2(O, n, net.B, [&](Index o, Index i) {
    T v = net.weight_out[o * n + i];
    if (OptionPathsOf<Exec>::value && net.l2 > T(0)) v -= shrink * v;
    for (Index b = 0; b < B; ++b) v -= step * act.error[b * O + o] * act.state[b * n + i];
    net.weight_out[o * n + i] = v;
  });
  Exec::loop(O, net.B, [&](Index o) {
    T v = net.bias_out[o];
    for (Index b = 0; b < B; ++b) v -= step * act.error[b * O + o];
    net.bias_out[o] = v;
  });
}

// The readout's gradient averaged over streams, captured for the optimiser (common/online_optimizer.h):
// grad_out = [(1/B) sum_b e_b a_b^T | (1/B) sum_b e_b], (O, n + 1). One phase.
template <typename Exec, typename T>
TLR_STEP void online_readout_gradient(const OnlineNet<T>& net, const OnlineActivity<T>& act) {
  using Index = IndexOf<Exec>;
  const Index n = Index(net.n), O = Index(net.O), B = Index(net.B), mo = n + 1;
  const T streams = T(B);
  T* const g = net.opt.grad_out;
  const T *const error = act.error, *const state = act.state;
  Exec::loop2(O, mo, B, [=](Index o, Index i) {
    T v = 0;
    for (Index b = 0; b < B; ++b) v += error[b * O + o] * (i < n ? state[b * n + i] : T(1));
    g[o * mo + i] = v / streams;
  });
}

// output_only's step (docs/algorithms.md §3.1): G = 0, the recurrent weights stay; only the readout learns.
struct NoRecurrentLearning {
  template <typename Net, typename Scalar, typename Act>
  TLR_STEP void step(const Net&, const Scalar*, const Act&) const {}
};

// Runs `steps` online steps. `rule.step(net, x_t, act)` updates the rule's traces from (a_{t-1}, x_t,
// phi'(h_t)) and applies its recurrent update using q_t; it may not touch the readout, since it runs in
// the same phase as the readout's SGD step. A rule of several phases puts Exec::sync() between them;
// the loop syncs after its last phase. L2 (docs/algorithms.md §2.1 4d): W -= lr l2 W_old for W_hh and
// W_ih, with W_old copied to net.decay before the rule's update. With another optimiser than sgd
// (§2.7, common/online_optimizer.h) the rule and the readout capture the step's gradients instead
// (grad_rec is cleared first: a rule may make no update on a step, and then G = 0) and apply_optimizer
// moves the weights in a phase of its own. lr_schedule, when given, is the learning rate of each step. In
// the credit mode (net.credit, §2.8) q_t is read, not computed, and the readout is left to the caller.
template <typename Exec, typename T, typename Rule>
TLR_STEP void run_online_steps(const OnlineNet<T>& net_in, Rule& rule, const T* x, const T* y, T* hidden, T* losses,
                               int64_t steps, OnlineActivity<T> act) {
  using Index = IndexOf<Exec>;
  OnlineNet<T> net = net_in;  // lr changes per step under a schedule
  const int64_t Bn = net.B * net.n, nn = net.n * net.n, nI = net.n * net.I, nm = net.n * (net.n + net.I + 1);
  const bool captures = captures_gradients<Exec>(net);
  // null under a policy without the options' paths (which then runs only calls without them)
  const T* const lr_schedule = option<Exec>(net.lr_schedule);
  T* const decay = option<Exec>(net.decay);
  const T* const credit = option<Exec>(net.credit);
  Exec::loop(Bn, 1, [&](Index k) { act.prev[k] = hidden[k]; });
  Exec::sync();
  for (int64_t t = 0; t < steps; ++t) {
    const T* xt = x + t * net.B * net.I;
    if (lr_schedule != nullptr) net.lr = lr_schedule[t];
    act.label = y + t * net.B * net.O;
    act.t = t;
    online_forward<Exec>(net, xt, act);
    if (decay != nullptr) {  // read-only here, like the forward
      Exec::loop(nn, 1, [&](Index k) { decay[k] = net.weight_hh[k]; });
      Exec::loop(nI, 1, [&](Index k) { decay[Index(nn) + k] = net.weight_ih[k]; });
    }
    if (captures) {
      T* const captured = net.opt.grad_rec;
      Exec::loop(nm, 1, [=](Index k) { captured[k] = T(0); });
    }
    if (credit != nullptr) {  // q_t given; the caller's readout is not ours to evaluate or update
      const T* given = credit + t * Bn;
      T* const q = act.q;
      T* const step_losses = losses + t * net.B;
      Exec::loop(Bn, 1, [=](Index k) { q[k] = given[k]; });
      Exec::loop(net.B, 1, [=](Index b) { step_losses[b] = T(0); });
      if (captures) {  // "none" hands back a readout gradient too: zero, the readout being the caller's
        T* const captured_out = net.opt.grad_out;
        Exec::loop(net.O * (net.n + 1), 1, [=](Index k) { captured_out[k] = T(0); });
      }
      Exec::sync();
      rule.step(net, xt, act);
    } else {
      Exec::sync();
      online_logits<Exec>(net, act);
      Exec::sync();
      online_loss<Exec>(net, act.label, act, losses + t * net.B);
      Exec::sync();
      online_credit<Exec>(net, act);
      Exec::sync();
      rule.step(net, xt, act);
      if (captures) {
        online_readout_gradient<Exec>(net, act);
      } else {
        online_readout_sgd<Exec>(net, act);
      }
    }
    Exec::sync();
    if (decay != nullptr) {
      const T shrink = net.lr * net.l2;
      Exec::loop(nn, 1, [&](Index k) { net.weight_hh[k] -= shrink * decay[k]; });
      Exec::loop(nI, 1, [&](Index k) { net.weight_ih[k] -= shrink * decay[Index(nn) + k]; });
      Exec::sync();
    }
    if (captures && net.opt.kind != Optimizer::None) {
      apply_optimizer<Exec>(net, net.opt, optimizer_scalars(net.opt, net.lr, net.opt.steps_before + t + 1),
                            credit == nullptr);
      Exec::sync();
    }
    T* const next = act.state;  // a_t becomes the next step's a_{t-1}
    act.state = act.prev;
    act.prev = next;
  }
  Exec::loop(Bn, 1, [&](Index k) { hidden[k] = act.prev[k]; });
}

}  // namespace torch_local_rnn
