// online_learn_members' CPU fast path for RFLO and e-prop stacks (docs/algorithms.md §2.10, §3.6): the members in
// the SIMD lanes of blocks of VB (one vector register: 16 floats / 8 doubles on AVX-512, 8 / 4 on AVX2, 4 / 2 on
// the baseline's SSE2, the widest the CPU has), each phase of the step a loop whose inner index is the member
// (cpu/members_simd_kernel.inc). At the papers' size (n = 32, B = 1) a member's step is a few
// thousand flops and the scalar path pays ~2 us of fixed cost per member-step for it; here a block of members
// shares that cost and its arithmetic runs in vectors. Every call copies the members' tensors into member-
// interleaved scratch (allocated once per call) at the start and back at the end; the blocks split over the
// threads in one ClaimedLoop per call, and a block runs all the call's steps before the next (its scratch
// stays in cache).
//
// Eligible (members_simd_eligible): CPU tensors of float or double; rule rflo or eprop; optimizer sgd; batch 1;
// tanh; loss cross_entropy, mse or mse_mean; no rec_grad, record or credit; feedback none (symmetric) or a
// matrix per member not sharing memory with weight_out; at least 2 members; and TLR_MEMBERS_SIMD is not "0" in
// the environment (read on every call: the benchmark's and the tests' switch to the scalar path; "avx2" or
// "baseline" there caps the kernel's ISA). Anything else runs each member's scalar step
// (common/online_learn_members_impl.h). lr (or lr_schedule), alpha, l2 and
// trace_alpha are per member. A member's results equal its solo online_learn run to rounding, not bitwise
// (the differences are listed in members_simd_kernel.inc).
#include "../common/members_simd.h"

#include <ATen/Parallel.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <variant>

#include "../common/online_learn_members_impl.h"
#include "claimed_loop.h"

namespace torch_local_rnn {
namespace {

// One member's slot in the kernel: its tensors (contiguous, written in place), inputs and scalars.
template <typename T>
struct SimdMember {
  T *weight_hh, *weight_ih, *bias, *weight_out, *bias_out, *trace, *hidden;
  const T* feedback;     // (O, n), or null: W_out itself (symmetric)
  const T *x, *y;        // (steps, 1, I), (steps, 1, O)
  const T* lr_schedule;  // (steps,) or null
  T* losses;             // losses[t * losses_stride]
  T alpha, lr, l2, rate;
};

struct SimdSizes {
  int64_t steps, n, I, O, losses_stride;
  int loss;  // Loss: 0 cross_entropy, 1 mse, 2 mse_mean (common/activation.h)
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // vectors passed between the kernel's (inlined) functions
// The kernel three times: for AVX-512 and for AVX2 + FMA (chosen at run time when the CPU has them) and for the
// build's baseline. Internal linkage (an anonymous namespace), so the wider copies are never what a baseline
// caller links to.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")
namespace avx512 {
#define TLR_SIMD_BYTES 64
#include "members_simd_kernel.inc"
#undef TLR_SIMD_BYTES
}  // namespace avx512
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
#define TLR_SIMD_BYTES 32
#include "members_simd_kernel.inc"
#undef TLR_SIMD_BYTES
}  // namespace avx2
#pragma GCC pop_options
namespace baseline {
#define TLR_SIMD_BYTES 16
#include "members_simd_kernel.inc"
#undef TLR_SIMD_BYTES
}  // namespace baseline
#pragma GCC diagnostic pop

std::atomic<int64_t> simd_calls{0};


bool shares_memory(const at::Tensor& a, const at::Tensor& b) {
  return a.storage().is_alias_of(b.storage());
}

// mode: TLR_MEMBERS_SIMD (null when unset); "0" turns the path off.
bool members_simd_eligible(const OnlineLearnMembersArgs& m, const std::vector<MemberViews>& members,
                           const std::vector<CheckedOnlineLearn>& checked, const char* mode) {
  if (members.size() < 2 || (mode != nullptr && std::strcmp(mode, "0") == 0)) return false;
  if (!(m.rule == "rflo" || m.rule == "eprop")) return false;
  const at::Tensor& x = checked[0].x;
  if (!x.device().is_cpu() || !(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble)) return false;
  if (m.rec_grad || m.record || m.credit || !m.rule_tensors.empty() || m.state.size() != 1) return false;
  for (size_t e = 0; e < members.size(); ++e) {
    const CheckedOnlineLearn& c = checked[e];
    if (c.args.B != 1 || c.args.f != Nonlinearity::Tanh || c.optimization.kind != Optimizer::Sgd) return false;
    if (!std::holds_alternative<RfloOptions>(c.options)) return false;
    if (c.feedback && shares_memory(*c.feedback, members[e].weight_out)) return false;
  }
  return true;
}

// The widest copy of the kernel this CPU runs: its lanes per block and its functions.
template <typename T>
struct SimdKernel {
  int64_t lanes;
  int64_t (*block_numel)(const SimdSizes&, bool);
  void (*run_block)(const SimdSizes&, const SimdMember<T>*, int, T*);
};

// The widest copy this CPU runs, or a narrower one that TLR_MEMBERS_SIMD names ("avx2", "baseline": the
// tests run every copy on one machine).
template <typename T>
SimdKernel<T> simd_kernel(const char* asked) {
  static const int cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                                 __builtin_cpu_supports("avx512dq") ? 2
                         : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
  const int cap = asked == nullptr ? 2 : std::strcmp(asked, "baseline") == 0 ? 0 : std::strcmp(asked, "avx2") == 0 ? 1 : 2;
  const int level = std::min(cpu, cap);
  if (level == 2) return {avx512::SimdLanes<T>::VB, &avx512::simd_block_numel<T>, &avx512::simd_run_block<T>};
  if (level == 1) return {avx2::SimdLanes<T>::VB, &avx2::simd_block_numel<T>, &avx2::simd_run_block<T>};
  return {baseline::SimdLanes<T>::VB, &baseline::simd_block_numel<T>, &baseline::simd_run_block<T>};
}

template <typename T>
void run_simd(const OnlineLearnMembersArgs& m, const std::vector<MemberViews>& members,
              const std::vector<CheckedOnlineLearn>& checked, const at::Tensor& losses,
              const std::vector<at::Tensor>& schedules, const char* mode) {
  const int64_t E = static_cast<int64_t>(members.size());
  const OnlineArgs& a = checked[0].args;
  const SimdSizes sizes{a.T, a.n, a.I, a.O, E, static_cast<int>(a.loss)};
  std::vector<SimdMember<T>> slots(E);
  T* const out = losses.data_ptr<T>();
  for (int64_t e = 0; e < E; ++e) {
    const MemberViews& v = members[e];
    const CheckedOnlineLearn& c = checked[e];
    slots[e] = {v.weight_hh.data_ptr<T>(), v.weight_ih.data_ptr<T>(), v.bias.data_ptr<T>(),
                v.weight_out.data_ptr<T>(), v.bias_out.data_ptr<T>(), v.state[0].data_ptr<T>(),
                v.hidden.data_ptr<T>(), c.feedback ? c.feedback->data_ptr<T>() : nullptr,
                c.x.data_ptr<T>(), c.y.data_ptr<T>(),
                schedules[e].defined() ? schedules[e].data_ptr<T>() : nullptr, out + e,
                static_cast<T>(v.alpha), static_cast<T>(v.lr), static_cast<T>(v.l2),
                static_cast<T>(std::get<RfloOptions>(c.options).trace_alpha)};
  }
  const bool fb = checked[0].feedback.has_value();
  const SimdKernel<T> kernel = simd_kernel<T>(mode);
  const int64_t VB = kernel.lanes, blocks = (E + VB - 1) / VB, per_block = kernel.block_numel(sizes, fb);
  const at::Tensor scratch = at::empty({blocks * per_block}, checked[0].x.options());  // 64-byte aligned
  T* const base = scratch.data_ptr<T>();
  // Blocks over the threads, grain 1 (E = 64 floats: 4 blocks on AVX-512, 8 on AVX2), one loop per call, none per
  // step. ClaimedLoop (cpu/claimed_loop.h), not at::parallel_for: on a loaded machine a helper the OS has not
  // scheduled finds nothing left to claim, where an OpenMP region waits for it (2 threads ran slower than 1).
  ClaimedLoop::run(0, blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const int valid = static_cast<int>(std::min<int64_t>(VB, E - b * VB));
      kernel.run_block(sizes, slots.data() + b * VB, valid, base + b * per_block);
    }
  });
}

}  // namespace

at::Tensor online_members_simd(const OnlineLearnMembersArgs& m, const std::vector<MemberViews>& members,
                               const std::vector<CheckedOnlineLearn>& checked) {
  const char* const mode = std::getenv("TLR_MEMBERS_SIMD");  // read once per call: the tests switch it
  if (!members_simd_eligible(m, members, checked, mode)) return at::Tensor();
  const int64_t E = static_cast<int64_t>(members.size());
  at::Tensor losses = at::empty({checked[0].args.T, E, 1}, checked[0].x.options());
  std::vector<at::Tensor> schedules(E);  // each member's (T,) learning rates, contiguous, or undefined
  for (int64_t e = 0; e < E; ++e) {
    const auto& s = checked[e].optimization.lr_schedule;
    if (s) schedules[e] = s->contiguous();
  }
  if (losses.scalar_type() == at::kFloat) {
    run_simd<float>(m, members, checked, losses, schedules, mode);
  } else {
    run_simd<double>(m, members, checked, losses, schedules, mode);
  }
  simd_calls.fetch_add(1, std::memory_order_relaxed);
  return losses;
}

int64_t members_simd_calls_op() { return simd_calls.load(std::memory_order_relaxed); }

}  // namespace torch_local_rnn
