// online_learn_members' CPU fast path for RFLO and e-prop stacks (docs/algorithms.md §2.10, §3.6): the members in
// the SIMD lanes of blocks of VB (16 floats / 8 doubles, 64 bytes), each phase of the step a loop whose inner
// index is the member (cpu/members_simd_kernel.inc). At the papers' size (n = 32, B = 1) a member's step is a few
// thousand flops and the scalar path pays ~2 us of fixed cost per member-step for it; here a block of members
// shares that cost and its arithmetic runs in vectors. Every call copies the members' tensors into member-
// interleaved scratch (allocated once per call) at the start and back at the end; the blocks split over the
// threads in one parallel region per call, and a block runs all the call's steps before the next (its scratch
// stays in cache).
//
// Eligible (members_simd_eligible): CPU tensors of float or double; rule rflo or eprop; optimizer sgd; batch 1;
// tanh; loss cross_entropy, mse or mse_mean; no rec_grad, record or credit; feedback none (symmetric) or a
// matrix per member not sharing memory with weight_out; at least 2 members; and TLR_MEMBERS_SIMD is not "0" in
// the environment (read on every call: the benchmark's and the tests' switch to the scalar path). Anything else
// runs each member's scalar step (common/online_learn_members_impl.h). lr (or lr_schedule), alpha, l2 and
// trace_alpha are per member. A member's results equal its solo online_learn run to rounding, not bitwise
// (the differences are listed in members_simd_kernel.inc).
#include "../common/members_simd.h"

#include <ATen/Parallel.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/ops/empty.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <variant>

#include "../common/online_learn_members_impl.h"

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

// The kernel twice: for AVX2 + FMA (chosen at run time when the CPU has them) and for the build's baseline.
// Internal linkage (an anonymous namespace), so the AVX2 copies are never what a baseline caller links to.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
#include "members_simd_kernel.inc"
}  // namespace avx2
#pragma GCC pop_options
namespace baseline {
#include "members_simd_kernel.inc"
}  // namespace baseline

std::atomic<int64_t> simd_calls{0};

template <typename T>
constexpr int kLanes = 64 / sizeof(T);  // 16 floats, 8 doubles

bool simd_enabled() {
  const char* v = std::getenv("TLR_MEMBERS_SIMD");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

bool shares_memory(const at::Tensor& a, const at::Tensor& b) {
  return a.storage().is_alias_of(b.storage());
}

bool members_simd_eligible(const OnlineLearnMembersArgs& m, const std::vector<MemberViews>& members,
                           const std::vector<CheckedOnlineLearn>& checked) {
  if (members.size() < 2 || !simd_enabled()) return false;
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

template <typename T>
void run_simd(const OnlineLearnMembersArgs& m, const std::vector<MemberViews>& members,
              const std::vector<CheckedOnlineLearn>& checked, const at::Tensor& losses,
              const std::vector<at::Tensor>& schedules) {
  constexpr int VB = kLanes<T>;
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
  const int64_t blocks = (E + VB - 1) / VB;
  const int64_t per_block = baseline::simd_block_numel<T, VB>(sizes, fb);
  const at::Tensor scratch = at::empty({blocks * per_block}, checked[0].x.options());
  T* const base = scratch.data_ptr<T>();
  static const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // grain 1: blocks over the threads (E = 64 floats: 4 blocks); one region per call, none per step
  at::parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const int valid = static_cast<int>(std::min<int64_t>(VB, E - b * VB));
      if (has_avx2) {
        avx2::simd_run_block<T, VB>(sizes, slots.data() + b * VB, valid, base + b * per_block);
      } else {
        baseline::simd_run_block<T, VB>(sizes, slots.data() + b * VB, valid, base + b * per_block);
      }
    }
  });
}

}  // namespace

at::Tensor online_members_simd(const OnlineLearnMembersArgs& m, const std::vector<MemberViews>& members,
                               const std::vector<CheckedOnlineLearn>& checked) {
  if (!members_simd_eligible(m, members, checked)) return at::Tensor();
  const int64_t E = static_cast<int64_t>(members.size());
  at::Tensor losses = at::empty({checked[0].args.T, E, 1}, checked[0].x.options());
  std::vector<at::Tensor> schedules(E);  // each member's (T,) learning rates, contiguous, or undefined
  for (int64_t e = 0; e < E; ++e) {
    const auto& s = checked[e].optimization.lr_schedule;
    if (s) schedules[e] = s->contiguous();
  }
  if (losses.scalar_type() == at::kFloat) {
    run_simd<float>(m, members, checked, losses, schedules);
  } else {
    run_simd<double>(m, members, checked, losses, schedules);
  }
  simd_calls.fetch_add(1, std::memory_order_relaxed);
  return losses;
}

int64_t members_simd_calls_op() { return simd_calls.load(std::memory_order_relaxed); }

}  // namespace torch_local_rnn
