// The CPU side of online_learn's rule table: the execution policy of the shared online step
// (common/online_step.h) and the driver that gives it the network view and a workspace.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/empty.h>

#include "serial_blas.h"
#include "../common/activation.h"
#include "../common/online_net.h"
#include "../common/online_step.h"
#include "../common/online_rule.h"
#include "../common/dot.h"
#include "../common/gpu_paths.h"
#include "../common/online_extent.h"
#include "claimed_loop.h"
#include "team_exec_emulation.h"
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

// The innermost loop of a phase: its elements neither read nor write what another element of the phase writes
// (the contract, common/online_step.h; checked by the reverse-order build), so the loop carries no dependence.
// Said to the compiler, it vectorises the loop without versioning it for possible aliasing: GCC otherwise
// tests every pair of the element's pointers before each row's loop and keeps a scalar copy, which at the papers'
// size (rows of 32) cost more than the vector loop itself (RFLO's trace phase, docs/design.md §1.4).
#if defined(__clang__)
#define TLR_INDEPENDENT_ELEMENTS _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define TLR_INDEPENDENT_ELEMENTS _Pragma("GCC ivdep")
#else
#define TLR_INDEPENDENT_ELEMENTS
#endif

// A policy loop GCC must inline into the rule's step, together with its row loop (TLR_INLINE_ELEMENT on the
// lambda): once RFLO's elements came as a stage returning an update, GCC put that row loop in a function of
// its own for the float64 step, which then read the elements' captures through the closures in memory, 8% of
// the step at the papers' size (bench_ab.py; forced inline, 0.99-1.02 of the old code).
#if defined(__GNUC__)
#define TLR_INLINE_POLICY __attribute__((always_inline)) inline
#else
#define TLR_INLINE_POLICY inline
#endif

// loop()'s elements are whole per-element computations (a unit's activation), which GCC's cost model judges
// unprofitable to vectorise when they convert between float and double (the float tanh, common/activation.h):
// measured, the scalar activation phase was a quarter of RFLO's step at the papers' size. OpenMP's simd
// directive vectorises them regardless of that model (-fsimd-cost-model); it changes no value, since the
// elements are independent (the contract) and without -ffast-math nothing is reordered or contracted.
#if defined(_OPENMP) && !defined(TLR_REVERSE_PHASE_ORDER)
#define TLR_VECTOR_ELEMENTS _Pragma("omp simd")
#else
#define TLR_VECTOR_ELEMENTS TLR_INDEPENDENT_ELEMENTS
#endif

// The CPU's execution policy for the shared online step (common/online_step.h): a phase runs on the
// calling thread unless it is big enough to pay for a parallel loop (ClaimedLoop, robust on a busy machine): at
// the papers' sizes every phase is a few thousand flops, and a parallel region per phase would cost more than
// the step, far more on a loaded machine.
// The BLAS that torch's CPU library carries (MKL on the x86-64 wheels: the Fortran gemm, LP64) takes raw
// pointers, so a step's product needs no tensor and allocates nothing; at::native::cpublas::gemm would be
// the ATen spelling, but libtorch_cpu does not export it. Declared weak: where a torch build exports no
// Fortran BLAS, the product falls back to at::mm_out on views of the same memory.
extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc) __attribute__((weak));
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc) __attribute__((weak));
}

// Column-major C (m x n) = A (m x k) B (k x n), no transposes, beta = 0.
template <typename T>
void blas_gemm_nn(int64_t m, int64_t n, int64_t k, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                  int64_t ldc) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "BLAS: float or double");
  const auto gemm = [] {
    if constexpr (std::is_same_v<T, float>) return sgemm_; else return dgemm_;
  }();
  if (gemm != nullptr && m > 0 && n > 0 && k > 0) {
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
    const int la = static_cast<int>(lda), lb = static_cast<int>(ldb), lc = static_cast<int>(ldc);
    const T one = 1, zero = 0;
    gemm("N", "N", &mi, &ni, &ki, &one, A, &la, B, &lb, &zero, C, &lc);
    return;
  }
  const auto options = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  at::Tensor out = at::from_blob(C, {n, m}, {ldc, 1}, options);  // the row-major view of column-major C
  at::mm_out(out, at::from_blob(const_cast<T*>(B), {n, k}, {ldb, 1}, options),
             at::from_blob(const_cast<T*>(A), {k, m}, {lda, 1}, options));
}

struct CpuExec {
  using Index = int64_t;                       // the step's index type (common/online_step.h's IndexOf)
  static constexpr bool kRotatedRows = false;  // rows from column 0: dot()'s loop, vectorised
  // run(lo, hi) over [0, rows): on the calling thread when the phase is small, else row ranges in parallel.
  template <typename Run>
  static void over_rows(int64_t rows, int64_t work_per_row, const Run& run) {
    if (rows * work_per_row < kWorkGrain) {
      run(0, rows);
    } else {
      ClaimedLoop::run(0, rows, work_grain(work_per_row), run);
    }
  }
  template <typename F>
  static void loop(int64_t count, int64_t work_per_item, F&& f) {
    if (count * work_per_item < kWorkGrain) {
      TLR_VECTOR_ELEMENTS
      for (int64_t k = 0; k < count; ++k) f(phase_index(k, count));
      return;
    }
    ClaimedLoop::run(0, count, std::max<int64_t>(1, kElementwiseGrain / work_per_item), [&](int64_t lo, int64_t hi) {
      TLR_INDEPENDENT_ELEMENTS
      for (int64_t k = lo; k < hi; ++k) f(phase_index(k, count));
    });
  }
  // (row, column) pairs of a rows x cols block, row-major: nested loops on the calling thread.
  template <typename F>
  static void loop2(int64_t rows, int64_t cols, int64_t work_per_item, F&& f) {
    if (rows * cols * work_per_item < kWorkGrain) {
      for (int64_t r = 0; r < rows; ++r) {
        TLR_INDEPENDENT_ELEMENTS
        for (int64_t c = 0; c < cols; ++c) f(phase_index(r, rows), phase_index(c, cols));
      }
      return;
    }
    // Big: rows in parallel, the contiguous columns inside (no index division per element, so the inner
    // loop vectorises); a block of few rows spreads each row's columns instead.
    if (rows >= 4) {
      over_rows(rows, cols * work_per_item, [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
          TLR_INDEPENDENT_ELEMENTS
          for (int64_t c = 0; c < cols; ++c) f(phase_index(r, rows), phase_index(c, cols));
        }
      });
      return;
    }
    for (int64_t r = 0; r < rows; ++r) {
      ClaimedLoop::run(0, cols, work_grain(work_per_item), [&](int64_t lo, int64_t hi) {
        TLR_INDEPENDENT_ELEMENTS
        for (int64_t c = lo; c < hi; ++c) f(phase_index(r, rows), phase_index(c, cols));
      });
    }
  }
  // One worker per row r: k then c inside it, so c is the contiguous inner loop (common/online_step.h).
  template <typename F>
  static void loop_owned(int64_t rows, int64_t inner, int64_t cols, int64_t work_per_item, F&& f) {
    const auto run = [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        for (int64_t k = 0; k < inner; ++k) {
          TLR_INDEPENDENT_ELEMENTS
          for (int64_t c = 0; c < cols; ++c) f(phase_index(r, rows), k, phase_index(c, cols));
        }
      }
    };
    over_rows(rows, inner * cols * work_per_item, run);
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
            TLR_INDEPENDENT_ELEMENTS
            for (int64_t c = 0; c < c0; ++c) f0(row, k, c);
            TLR_INDEPENDENT_ELEMENTS
            for (int64_t c = 0; c < c1; ++c) f1(row, k, c);
            for (int64_t c = 0; c < c2; ++c) f2(row, k, c);
          }
        }
      }
    };
    over_rows(rows, inner * (c0 + c1 + c2) * work_per_item, run);
  }
  // loop_owned3 with each owned element named by w_b(r, c) and handed to the update f_b(r, k, c) returns
  // (common/online_step.h), called at once: here the reference is the memory element itself, in loop_owned3's
  // loops, so a step written with it runs exactly the code (and rounds exactly as) one whose lambdas read,
  // update and name the element themselves. The loops are loop_owned3's own rather than a call of it with
  // wrapping lambdas: that wrapper measured 2-3% slower on RFLO's float32 step at the papers' size (0.89-0.91
  // against 0.87-0.88 us, this machine, idle).
  template <typename W0, typename F0, typename W1, typename F1, typename W2, typename F2>
  TLR_INLINE_POLICY static void loop_owned3_acc(int64_t rows, int64_t inner, int64_t c0, int64_t c1, int64_t c2,
                                                int64_t work_per_item, W0&& w0, F0&& f0, W1&& w1, F1&& f1, W2&& w2,
                                                F2&& f2) {
    const auto run = [&](int64_t lo, int64_t hi) TLR_INLINE_ELEMENT {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t row = phase_index(r, rows);
        for (int64_t k = 0; k < inner; ++k) {
          if (kReversePhaseOrder) {
            for (int64_t c = 0; c < c2; ++c) {
              const int64_t col = phase_index(c, c2);
              f2(row, k, col)(w2(row, col));
            }
            for (int64_t c = 0; c < c1; ++c) {
              const int64_t col = phase_index(c, c1);
              f1(row, k, col)(w1(row, col));
            }
            for (int64_t c = 0; c < c0; ++c) {
              const int64_t col = phase_index(c, c0);
              f0(row, k, col)(w0(row, col));
            }
          } else {
            TLR_INDEPENDENT_ELEMENTS
            for (int64_t c = 0; c < c0; ++c) f0(row, k, c)(w0(row, c));
            TLR_INDEPENDENT_ELEMENTS
            for (int64_t c = 0; c < c1; ++c) f1(row, k, c)(w1(row, c));
            for (int64_t c = 0; c < c2; ++c) f2(row, k, c)(w2(row, c));
          }
        }
      }
    };
    over_rows(rows, inner * (c0 + c1 + c2) * work_per_item, run);
  }
  // C = A B, row-major, by BLAS: the row-major product is the column-major C^T = B^T A^T (blas_gemm below),
  // on the calling thread (cpu/serial_blas.h: no BLAS thread region per product per step).
  template <typename T>
  static void matmul(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                     int64_t ldc) {
    SerialBlasScope serial_blas;
    blas_gemm_nn(N, M, K, B, ldb, A, lda, C, ldc);
  }
  // Eight partial sums in dot()'s order (common/dot.h): one running sum neither vectorises nor pipelines
  // (a factor's norm runs over n * m terms), and a norm of v is then exactly dot(v, v, count).
  template <typename T, typename F>
  static void sums(int64_t rows, int64_t count, F&& f, T* out) {
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t r = phase_index(i, rows);
      T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t k = 0;
      for (; k + 8 <= count; k += 8) {
        for (int u = 0; u < 8; ++u) s[u] += f(r, k + u);
      }
      T tail = 0;
      for (; k < count; ++k) tail += f(r, k);
      out[r] = eight_sums_total(s, tail);
    }
  }
  static void sync() {}
};

// The step loop a second time for AVX2 (docs/design.md §1.6): `flatten` inlines every call it can into this
// copy, so the phases' loops are compiled for 256-bit vectors. AVX2 only, not FMA: without FMA the compiler
// cannot contract a * b + c, and without -ffast-math it may not reorder a sum, so this copy rounds exactly as
// the baseline's SSE2 one does: results are bitwise the same on every CPU (the tests compare the two). For
// float only (the papers' setting; float64 is for exactness checks), since each flattened copy is a large
// function to compile; and not in the phase-order check build, which checks the step's order, not its speed.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(TLR_REVERSE_PHASE_ORDER) && \
    !defined(TLR_NO_AVX2_STEP)
#define TLR_AVX2_STEP 1
template <typename T, typename Rule>
__attribute__((target("avx2"), flatten)) void run_online_steps_avx2(const OnlineNet<T>& net, Rule& rule,
                                                                      const T* x, const T* y, T* hidden,
                                                                      T* losses, int64_t steps,
                                                                      OnlineActivity<T> act) {
  run_online_steps<CpuExec>(net, rule, x, y, hidden, losses, steps, act);
}
#else
#define TLR_AVX2_STEP 0
#endif

// Whether a float call runs the AVX2 copy: the library has it, the CPU has AVX2 and TLR_CPU_STEP is not
// "baseline" (read per call, as the tests switch it; a call is a chunk of steps, so the lookup is noise).
bool online_step_uses_avx2();

// Calls run(exec) with the GPU's policy that TLR_CPU_ONLINE_ORDER names, emulated on the CPU: the one-block and
// member kernels' over a team of 64 (32-bit indices), or the grid kernel's over two blocks of 256; each in the build
// the GPU would launch for the call, without the options' paths where the call has none (`plain`:
// plain_online_options, as the CUDA glue decides, so the tests check that both builds compute the same).
template <typename Run>
void with_gpu_order_policy(CpuOnlineOrder order, bool plain, Run&& run) {
  if (order == CpuOnlineOrder::Grid) {
    plain ? run(EmulatedGridExecPlain<2 * 256>{}) : run(EmulatedGridExec<2 * 256>{});
  } else {
    plain ? run(EmulatedTeamExecPlain<64>{}) : run(EmulatedTeamExec<64>{});
  }
}

// The shared online loop for a rule of the online_learn table: builds the network view and the
// activity workspace, then runs T steps with the rule make_rule(scalar_t{}, exec) returns for the policy
// decltype(exec) (its buffers must be allocated before this call: nothing is allocated inside the loop). The
// policy is the CPU's, or under TLR_CPU_ONLINE_ORDER=gpu or grid (float64) one of the GPU's emulated
// (with_gpu_order_policy), so that every rule's GPU order is tested against its CPU order on the CPU
// (tests/rules/test_gpu_order.py).
template <typename MakeRule>
void run_online_call(const OnlineCall& c, MakeRule&& make_rule) {
  const CpuOnlineOrder order = cpu_online_order();
  TORCH_CHECK(order == CpuOnlineOrder::Cpu || c.x.scalar_type() == at::kDouble, "online_learn: TLR_CPU_ONLINE_ORDER=",
              order == CpuOnlineOrder::Gpu ? "gpu" : "grid", " runs float64 only, but got x of dtype ",
              c.x.scalar_type());
  const OnlineBuffers buffers = allocate_online_buffers(c);
  AT_DISPATCH_FLOATING_TYPES(c.x.scalar_type(), "online_learn", [&] {
    const OnlineNet<scalar_t> net = make_online_net<scalar_t>(c, buffers);
    const scalar_t *x = c.x.data_ptr<scalar_t>(), *y = c.y.data_ptr<scalar_t>();
    scalar_t *hidden = c.hidden.data_ptr<scalar_t>(), *losses = c.losses.data_ptr<scalar_t>();
    const OnlineActivity<scalar_t> act =
        carve_online_activity(buffers.workspace.data_ptr<scalar_t>(), c.args.B, c.args.n);
    if constexpr (std::is_same_v<scalar_t, double>) {
      if (order != CpuOnlineOrder::Cpu) {
        return with_gpu_order_policy(order, plain_online_options(net), [&](auto exec) {
          using Exec = decltype(exec);
          auto rule = make_rule(scalar_t{}, exec);
          if constexpr (std::is_same_v<IndexOf<Exec>, int32_t>) {  // refused past the GPU's bound, as there
            check_block_indices(kernels::online_index_extent<decltype(rule)>(c.args.B, c.args.n, c.args.I, c.args.O),
                                c.args.B, c.args.n, c.args.I, c.args.O);
          }
          run_online_steps<Exec>(net, rule, x, y, hidden, losses, c.args.T, act);
        });
      }
    }
    auto rule = make_rule(scalar_t{}, CpuExec{});
#if TLR_AVX2_STEP
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (online_step_uses_avx2()) {
        run_online_steps_avx2(net, rule, x, y, hidden, losses, c.args.T, act);
        return;
      }
    }
#endif
    run_online_steps<CpuExec>(net, rule, x, y, hidden, losses, c.args.T, act);
  });
}

}  // namespace torch_local_rnn
