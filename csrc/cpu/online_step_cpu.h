// The CPU side of online_learn's rule table: the execution policy of the shared online step
// (common/online_step.h) and the driver that gives it the network view and a workspace.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/native/CPUBlas.h>
#include <ATen/ops/empty.h>

#include "../common/activation.h"
#include "../common/online_net.h"
#include "../common/online_step.h"
#include "../common/online_rule.h"
#include "../common/dot.h"
#include "parallel_cpu.h"

namespace torch_local_rnn {

// The check build TLR_REVERSE_PHASE_ORDER (scripts/check_phase_order.sh) runs every phase's elements (the
// (r, c) owners of loop_owned; never its k) in reverse order: the GPU runs them at once, so a step whose
// result depends on their order is a race there, and here it changes the tests' numbers.
#if defined(TLR_REVERSE_PHASE_ORDER)
constexpr bool kReversePhaseOrder = true;
#else
constexpr bool kReversePhaseOrder = false;
#endif

// Index k of count in the phase order of this build.
inline int64_t phase_index(int64_t k, int64_t count) { return kReversePhaseOrder ? count - 1 - k : k; }

// The CPU's execution policy for the shared online step (common/online_step.h): a phase runs on the
// calling thread unless it is big enough to pay for an OpenMP region (at the papers' sizes every
// phase is a few thousand flops, and a region per phase would cost more than the step, far more on a
// loaded machine).
struct CpuExec {
  template <typename F>
  static void loop(int64_t count, int64_t work_per_item, F&& f) {
    if (count * work_per_item < kWorkGrain) {
      for (int64_t k = 0; k < count; ++k) f(phase_index(k, count));
      return;
    }
    at::parallel_for(0, count, std::max<int64_t>(1, kElementwiseGrain / work_per_item), [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) f(phase_index(k, count));
    });
  }
  // (row, column) pairs of a rows x cols block, row-major: nested loops on the calling thread.
  template <typename F>
  static void loop2(int64_t rows, int64_t cols, int64_t work_per_item, F&& f) {
    if (rows * cols * work_per_item < kWorkGrain) {
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) f(phase_index(r, rows), phase_index(c, cols));
      }
      return;
    }
    loop(rows * cols, work_per_item, [&](int64_t k) { f(k / cols, k % cols); });
  }
  // One worker per row r: k then c inside it, so c is the contiguous inner loop (common/online_step.h).
  template <typename F>
  static void loop_owned(int64_t rows, int64_t inner, int64_t cols, int64_t work_per_item, F&& f) {
    const auto run = [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        for (int64_t k = 0; k < inner; ++k) {
          for (int64_t c = 0; c < cols; ++c) f(phase_index(r, rows), k, phase_index(c, cols));
        }
      }
    };
    const int64_t per_row = inner * cols * work_per_item;
    if (rows * per_row < kWorkGrain) {
      run(0, rows);
    } else {
      at::parallel_for(0, rows, work_grain(per_row), run);
    }
  }
  // loop_owned over the three column blocks of one row-major matrix (W = [W_hh | W_ih | b]) in ONE pass:
  // a row's blocks run together, so a big step opens one parallel region, not one per block.
  template <typename F0, typename F1, typename F2>
  static void loop_owned3(int64_t rows, int64_t inner, int64_t c0, int64_t c1, int64_t c2, int64_t work_per_item,
                          F0&& f0, F1&& f1, F2&& f2) {
    const auto run = [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t row = phase_index(r, rows);
        for (int64_t k = 0; k < inner; ++k) {
          if (kReversePhaseOrder) {
            for (int64_t c = 0; c < c2; ++c) f2(row, k, phase_index(c, c2));
            for (int64_t c = 0; c < c1; ++c) f1(row, k, phase_index(c, c1));
            for (int64_t c = 0; c < c0; ++c) f0(row, k, phase_index(c, c0));
          } else {
            for (int64_t c = 0; c < c0; ++c) f0(row, k, c);
            for (int64_t c = 0; c < c1; ++c) f1(row, k, c);
            for (int64_t c = 0; c < c2; ++c) f2(row, k, c);
          }
        }
      }
    };
    const int64_t per_row = inner * (c0 + c1 + c2) * work_per_item;
    if (rows * per_row < kWorkGrain) {
      run(0, rows);
    } else {
      at::parallel_for(0, rows, work_grain(per_row), run);
    }
  }
  // C = A B, row-major, by BLAS: the row-major product is the column-major C^T = B^T A^T.
  template <typename T>
  static void matmul(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                     int64_t ldc) {
    using at::native::TransposeType;
    at::native::cpublas::gemm(TransposeType::NoTranspose, TransposeType::NoTranspose, N, M, K, T(1), B, ldb, A, lda,
                              T(0), C, ldc);
  }
  template <typename T, typename F>
  static void sums(int64_t rows, int64_t count, F&& f, T* out) {
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t r = phase_index(i, rows);
      T acc = 0;
      for (int64_t k = 0; k < count; ++k) acc += f(r, k);
      out[r] = acc;
    }
  }
  static void sync() {}
};

// The shared online loop for a rule of the online_learn table: builds the network view and the
// activity workspace, then runs T steps with the rule make_rule(scalar_t{}) returns (its
// buffers must be allocated before this call: nothing is allocated inside the loop).
template <typename MakeRule>
void run_online_call(const OnlineCall& c, MakeRule&& make_rule) {
  at::Tensor workspace = at::empty({online_activity_numel(c.args.B, c.args.n, c.args.O)}, c.x.options());
  at::Tensor decay = c.args.l2 > 0 ? at::empty({c.args.n * (c.args.n + c.args.I)}, c.x.options()) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(c.x.scalar_type(), "online_learn", [&] {
    OnlineNet<scalar_t> net = make_online_net<scalar_t>(c);
    if (decay.defined()) net.decay = decay.data_ptr<scalar_t>();
    auto rule = make_rule(scalar_t{});
    run_online_steps<CpuExec>(net, rule, c.x.data_ptr<scalar_t>(), c.y.data_ptr<scalar_t>(),
                              c.hidden.data_ptr<scalar_t>(), c.losses.data_ptr<scalar_t>(), c.args.T,
                              carve_online_activity(workspace.data_ptr<scalar_t>(), c.args.B, c.args.n));
  });
}

}  // namespace torch_local_rnn
