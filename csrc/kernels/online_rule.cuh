// The persistent kernel every online rule runs on the GPU in one block (online_step.cuh says when one
// block is the right shape): the shared step of docs/algorithms.md §2.1 with the rule's phase `Rule::step`
// in the middle. A rule is a small struct of device pointers and scalars (rules/<rule>/<rule>_step.h, the
// step the CPU runs too) passed by value; its buffers are allocated by the glue before the launch. The block's
// body (run_online_block) is also what each block of the member kernel runs (online_members.cuh); large
// networks run the grid kernel instead (online_rule_grid.cuh).
//
// Shared memory: the per-step activity, and when they fit as well the network and readout
// weights (every phase of every rule reads them, and the rules' updates write them each step):
// the kernel copies them in at the start, points the network view at the copies, and writes
// them back at the end, so a step's weight traffic stays on the SM instead of going to L2.
// Rules reach the weights only through `net`, so they need not know where the weights live.
// A rule may also name state buffers of its own to cache the same way (`for_each_cached_state`, e.g.
// RFLO's trace): cached only when the activity, the weights and all that state fit together; the rule the
// steps run is then pointed at the copies, and the state is written back at the end. Only where values
// live changes, never an operation, so the results are the same bits. The grid kernel caches nothing.
#pragma once

#include <type_traits>
#include <utility>

#include "common.cuh"
#include "online_step.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T, typename Rule>
struct OnlineRuleParams {
  OnlineNet<T> net;
  Rule rule;
  const T* x;      // (steps, B, I)
  const T* y;      // (steps, B, O)
  T* hidden;       // (B, n): a_0 on entry, a_T on exit
  T* losses;       // (steps, B)
  T* workspace;    // online_activity_numel(B, n, O), used when the activity exceeds shared memory
  int64_t steps;
  bool activity_in_shared, weights_in_shared;  // set by prepare_online_block
  bool state_in_shared = false;                // the rule's cached state (set by prepare_online_block)
};

// The optional member of a rule: `template <typename F> TLR_STEP void for_each_cached_state(const
// OnlineNet<T>& net, F&& f)` calls f(T*& buffer, int64_t count) for each state buffer the one-block kernel may
// keep in shared memory; f may re-point the buffer. Detected with this counter (which also sizes the state).
struct CachedStateCounter {
  int64_t numel = 0;
  template <typename U>
  __host__ __device__ void operator()(U*&, int64_t count) {
    numel += count;
  }
};
template <typename Rule, typename T, typename = void>
struct has_cached_state : std::false_type {};
template <typename Rule, typename T>
struct has_cached_state<Rule, T,
                        std::void_t<decltype(std::declval<Rule&>().for_each_cached_state(
                            std::declval<const OnlineNet<T>&>(), std::declval<CachedStateCounter&>()))>>
    : std::true_type {};

// The values of a rule's cached state (0 for a rule without), counted on a copy: its pointers stay as given.
template <typename T, typename Rule>
int64_t cached_state_numel(const OnlineNet<T>& net, const Rule& rule) {
  if constexpr (has_cached_state<Rule, T>::value) {
    Rule copy = rule;
    CachedStateCounter counter;
    copy.for_each_cached_state(net, counter);
    return counter.numel;
  } else {
    return 0;
  }
}

// W_hh, W_ih, b, W_out, b_out: n (n + I + 1) + O (n + 1) values.
__host__ __device__ inline int64_t online_weights_numel(int64_t n, int64_t I, int64_t O) {
  return n * (n + I + 1) + O * (n + 1);
}

// Sets where the block keeps the activity, the weights and the rule's cached state (shared memory when they
// fit the 48 KiB every launch may use, each only with all before it: [activity | weights | state]) and
// returns the block's dynamic shared memory in bytes. It depends on the sizes and the rule's type alone, so
// it is the same for every member of an online_learn_members call (whose batch flushes before a member of
// another size: cuda/online_members_cuda.h).
template <typename T, typename Rule>
size_t prepare_online_block(OnlineRuleParams<T, Rule>& p) {
  const size_t activity = online_activity_numel(p.net.B, p.net.n, p.net.O) * sizeof(T);
  const size_t weights = online_weights_numel(p.net.n, p.net.I, p.net.O) * sizeof(T);
  const size_t state = static_cast<size_t>(cached_state_numel(p.net, p.rule)) * sizeof(T);
  p.activity_in_shared = activity <= kOnlineSharedBytes;
  p.weights_in_shared = p.activity_in_shared && activity + weights <= kOnlineSharedBytes;
  p.state_in_shared = p.weights_in_shared && state > 0 && activity + weights + state <= kOnlineSharedBytes;
  return (p.activity_in_shared ? activity : 0) + (p.weights_in_shared ? weights : 0) +
         (p.state_in_shared ? state : 0);
}

// Copies the weights between global memory and a shared block `cache` laid out as
// [W_hh | W_ih | b | W_out | b_out]; to_cache picks the direction. Every thread calls it.
template <typename T>
__device__ void move_weights(const OnlineNet<T>& global, T* cache, bool to_cache) {
  T* const parts[] = {global.weight_hh, global.weight_ih, global.bias, global.weight_out, global.bias_out};
  const int64_t sizes[] = {global.n * global.n, global.n * global.I, global.n, global.O * global.n, global.O};
  for (int part = 0; part < 5; ++part) {
    TLR_BLOCK_LOOP(k, sizes[part]) {
      if (to_cache) {
        cache[k] = parts[part][k];
      } else {
        parts[part][k] = cache[k];
      }
    }
    cache += sizes[part];
  }
}

// One network's whole online loop in this block under the policy Exec (BlockExec32, or BlockExec32Plain for a
// call without options), its dynamic shared memory as prepare_online_block sized it. p is the block's own
// copy (the rule's step may keep per-call values in it).
template <typename Exec, typename T, typename Rule>
__device__ __forceinline__ void run_online_block(OnlineRuleParams<T, Rule>& p) {
  extern __shared__ __align__(16) unsigned char online_shared[];
  T* shared = reinterpret_cast<T*>(online_shared);
  T* base = p.activity_in_shared ? shared : p.workspace;
  OnlineNet<T> net = p.net;
  // The rule the steps run; with cached state, pointed at the copies (p.rule keeps the global buffers).
  Rule rule = p.rule;
  if (p.weights_in_shared) {
    T* cache = shared + (p.activity_in_shared ? online_activity_numel(net.B, net.n, net.O) : 0);
    move_weights(p.net, cache, true);
    const int64_t n = net.n, I = net.I;
    net.weight_hh = cache;
    net.weight_ih = cache + n * n;
    net.bias = cache + n * (n + I);
    net.weight_out = cache + n * (n + I + 1);
    net.bias_out = net.weight_out + net.O * n;
    if (p.net.feedback == p.net.weight_out) net.feedback = net.weight_out;  // symmetric feedback follows W_out
    if constexpr (has_cached_state<Rule, T>::value) {
      if (p.state_in_shared) {  // only with the weights (prepare_online_block): after them
        T* state = cache + online_weights_numel(n, I, net.O);
        rule.for_each_cached_state(p.net, [&](T*& buffer, int64_t count) {
          TLR_BLOCK_LOOP(k, count) state[k] = buffer[k];
          buffer = state;
          state += count;
        });
      }
    }
    __syncthreads();
  }
  run_online_steps<Exec>(net, rule, p.x, p.y, p.hidden, p.losses, p.steps, carve_online_activity(base, net.B, net.n));
  if (p.weights_in_shared) {
    __syncthreads();
    T* cache = shared + (p.activity_in_shared ? online_activity_numel(net.B, net.n, net.O) : 0);
    move_weights(p.net, cache, false);
    if constexpr (has_cached_state<Rule, T>::value) {
      if (p.state_in_shared) {  // back to the global buffers, in the order they were copied in
        T* state = cache + online_weights_numel(net.n, net.I, net.O);
        p.rule.for_each_cached_state(p.net, [&](T*& buffer, int64_t count) {
          TLR_BLOCK_LOOP(k, count) buffer[k] = state[k];
          state += count;
        });
      }
    }
  }
}

template <typename Exec, typename T, typename Rule>
__global__ void __launch_bounds__(kOnlineThreads) online_rule_kernel(OnlineRuleParams<T, Rule> p) {
  run_online_block<Exec>(p);
}

// One block of kOnlineThreads; p prepared by prepare_online_block, which returned shared_bytes.
template <typename Exec, typename T, typename Rule>
void launch_online_rule(const OnlineRuleParams<T, Rule>& p, size_t shared_bytes, cudaStream_t stream) {
  online_rule_kernel<Exec, T, Rule><<<1, kOnlineThreads, shared_bytes, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
