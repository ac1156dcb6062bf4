// The GPU's execution policy for the shared online step (common/online_step.h): the threads of ONE
// block share each phase's elements and __syncthreads() orders the phases; the persistent kernel
// (online_rule.cuh) runs the whole time loop in that block. The papers' network (n = 32, B = 1) is a
// few thousand flops per step and every step depends on the weights the previous step wrote, so the
// cost is latency: one launch per sequence and block barriers (~100 ns) beat a kernel launch per phase
// (~3-5 us each) by far, and a single block needs no grid-wide sync. It is correct for any size, but
// it uses one SM, so large B * n * m would want a multi-block streaming kernel (docs/design.md §3.3 (b)).
#pragma once

#include "../common/online_step.h"
#include "common.cuh"

namespace torch_local_rnn {
namespace kernels {

constexpr int kOnlineThreads = 256;

// The per-step activity lives in shared memory when it fits the 48 KiB every launch may
// use without opting in (always at the papers' sizes), else in a global workspace.
constexpr size_t kOnlineSharedBytes = 48 * 1024;

struct BlockExec {
  template <typename F>
  __device__ static void loop(int64_t count, int64_t /*work_per_item*/, F&& f) {
    TLR_BLOCK_LOOP(k, count) f(k);
  }
  template <typename F>
  __device__ static void loop2(int64_t rows, int64_t cols, int64_t /*work_per_item*/, F&& f) {
    TLR_BLOCK_LOOP(k, rows * cols) {
      const int64_t r = k / cols;
      f(r, k - r * cols);
    }
  }
  __device__ static void sync() { __syncthreads(); }
};

}  // namespace kernels
}  // namespace torch_local_rnn
