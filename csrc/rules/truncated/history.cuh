// The state the truncated BPTTs (f_bptt, e_bptt; docs/algorithms.md §3.9, §3.10) carry across online
// steps on the GPU, the device mirror of rules/truncated/history_cpu.h: ring buffers of the last K steps'
// phi'(h_t), ahat_t and credit, each (K, B, .), the step count (a one-element tensor of the
// network's dtype), and the per-call scratch the glue allocates before the launch.
//
// The count lives in device memory and is read and written inside the persistent kernel. Every
// thread reads it at the start of the rule's step (history_count), before the step's first
// barrier, and thread 0 writes the next value (history_set_count) only after that barrier, so no
// thread can see this step's write while it still reads this step's count; the next step reads
// it after the loop's own barriers.
#pragma once

#include "../../common/online_net.h"
#include "../../kernels/common.cuh"
#include "../../kernels/credit.cuh"

namespace torch_local_rnn {
namespace kernels {

template <typename T>
struct History {
  int64_t K;
  T *dphi, *ahat, *credit, *count;  // state[0..3]: (K, B, n), (K, B, m), (K, B, n), (1)
  T *v, *v_next, *scratch, *G;      // (B, n) x 3 and (n, m) scratch
  T* rec_grad;                      // (n, m) or null
  T alpha_m;                        // the factor alpha of the gradient (1: legacy_alpha_omission)

  // The step count before this step; call before the step's first barrier.
  __device__ int64_t count_before() const { return static_cast<int64_t>(*count); }

  // Thread 0 stores the count after this step; call after at least one barrier of the step.
  __device__ void set_count(int64_t value) const {
    if (threadIdx.x == 0) *count = static_cast<T>(value);
  }

  // Writes step t's phi'(h_t), ahat_t and q_t into ring slot `slot`: one phase, no barrier.
  __device__ void store(int64_t slot, const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t Bn = net.B * net.n, m = net.n + net.I + 1;
    block_copy(act.dphi, Bn, dphi + slot * Bn);
    presynaptic(act.prev, x, net.B, net.n, net.I, ahat + slot * net.B * m);
    block_copy(act.q, Bn, credit + slot * Bn);
  }
};

// The per-stream vectors of a sequence kernel live in shared memory up to the 48 KiB every
// launch may use without opting in (always at the papers' sizes), else in a global workspace.
constexpr size_t kStreamSharedBytes = 48 * 1024;

// Threads of a one-block-per-stream sequence kernel: the work of each phase is n wide, so a
// whole warp multiple of n (at most kThreads) keeps the barriers cheap at the papers' n = 32.
inline unsigned int stream_block_threads(int64_t n) {
  const int64_t warps = (n + 31) / 32;
  return static_cast<unsigned int>(warps * 32 > kThreads ? kThreads : warps * 32);
}

// The sequence form of both truncated BPTTs: a reverse-time credit recursion per stream, one
// block per stream, `vectors` per-stream vectors of n in shared memory when they fit.
template <typename T>
struct TruncatedCreditParams {
  T* credit;           // (steps, B, n): c_t, written (f_bptt: zero on entry, accumulated)
  T* workspace;        // (B, vectors n): used when the per-stream vectors exceed shared memory
  const T* grad;       // (steps, B, n): g_t = dL/da_t
  const T* dphi;       // (steps, B, n): phi'(h_t)
  const T* weight_hh;  // (n, n)
  int64_t steps, B, n, K;
  T alpha;
  bool in_shared;  // set by launch_truncated_credit
};

template <typename T>
void launch_truncated_credit(void (*kernel)(TruncatedCreditParams<T>), int64_t vectors, TruncatedCreditParams<T> p,
                             cudaStream_t stream) {
  const size_t bytes = static_cast<size_t>(vectors * p.n) * sizeof(T);
  p.in_shared = bytes <= kStreamSharedBytes;
  kernel<<<static_cast<unsigned int>(p.B), stream_block_threads(p.n), p.in_shared ? bytes : 0, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
