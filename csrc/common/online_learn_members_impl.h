// online_learn_members on one backend (docs/algorithms.md §2.10): E networks ("members") of one rule, one
// set of sizes, nonlinearity, loss and optimiser kind, each trained online as online_learn trains it, in one
// call. Every per-member tensor carries a leading member dimension, every per-member scalar is a list. The op
// checks every member first (online_learn's checks on the member's views, its errors naming the member), so a
// call refused for any member changes nothing; then runs each member's own online_learn (the same kernel
// on the same views: a member's result is bitwise the one online_learn gives it) under the backend's
// MemberLoop: CPU members on the pool's threads (cpu/parallel_cpu.h); CUDA members all in one launch, a block
// per member (cuda/online_members_cuda.h: each member's glue runs as alone, and its one-block kernel is
// collected rather than launched; docs/design.md §3.7). One exception: RFLO / e-prop stacks at batch 1 under
// sgd on the CPU take the member-lane fast path (cpu/members_simd_cpu.cpp), where a member equals its solo run
// to rounding (<= 1e-12 in float64), not bitwise.
#pragma once

#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/ops/stack.h>

#include <string>
#include <vector>

#include "members_simd.h"
#include "online_learn_impl.h"

namespace torch_local_rnn {

constexpr char kMembersOp[] = "online_learn_members";

// The op's arguments as the schema takes them (csrc/registration.cpp): online_learn's, stacked.
struct OnlineLearnMembersArgs {
  c10::string_view rule;
  const at::Tensor &x, &y, &hidden, &weight_hh, &weight_ih, &bias, &weight_out, &bias_out;
  at::TensorList state;
  const std::optional<at::Tensor> &rec_grad, &feedback;
  c10::ArrayRef<double> alpha;
  c10::string_view nonlinearity, loss;
  c10::ArrayRef<double> lr, rule_options;
  at::TensorList rule_tensors;
  const std::optional<at::Tensor>& record;
  c10::ArrayRef<double> l2;
  c10::string_view optimizer;
  c10::ArrayRef<double> optimizer_options;
  const std::optional<at::Tensor>& optimizer_state;
  c10::ArrayRef<int64_t> optimizer_steps;
  const std::optional<at::Tensor> &lr_schedule, &credit;
};

// One member's online_learn arguments: views of the stacked tensors (select(0, e): contiguous when the stacked
// tensor is, so the kernel writes through them into the stacked tensor) and its slices of the lists.
struct MemberViews {
  std::string op;  // "online_learn_members (member e)": the name the member's errors give
  at::Tensor x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out;
  std::vector<at::Tensor> state, rule_tensors;
  std::optional<at::Tensor> rec_grad, feedback, record, optimizer_state, lr_schedule, credit;
  double alpha = 1.0, lr = 0.0, l2 = 0.0;
  int64_t optimizer_steps = 0;
  c10::ArrayRef<double> rule_options, optimizer_options;

  OnlineLearnArgs args(const OnlineLearnMembersArgs& m) const {
    return {m.rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad, feedback, alpha,
            m.nonlinearity, m.loss, lr, rule_options, rule_tensors, record, l2, m.optimizer, optimizer_options,
            optimizer_state, optimizer_steps, lr_schedule, credit};
  }
};

// Member e of a stacked tensor (members, ...): the error names the argument and its stacked layout.
inline at::Tensor member_of(const at::Tensor& t, int64_t E, int64_t e, const char* name, const char* layout) {
  TORCH_CHECK(t.dim() >= 1 && t.size(0) == E, kMembersOp, ": expected ", name, " of shape ", layout,
              " with members = ", E, " (the length of alpha), but got shape ", shape_str(t.sizes()));
  return t.select(0, e);
}

inline std::optional<at::Tensor> member_of(const std::optional<at::Tensor>& t, int64_t E, int64_t e, const char* name,
                                           const char* layout) {
  return t ? std::optional<at::Tensor>(member_of(*t, E, e, name, layout)) : std::nullopt;
}

// x or y: (seq_len, batch, size) shared by every member, or (seq_len, members, batch, size), one per member
// (a strided view: the member's check_online_learn makes its contiguous copy, before any member runs).
inline at::Tensor member_input(const at::Tensor& t, int64_t E, int64_t e, const char* name, const char* size) {
  TORCH_CHECK(t.dim() == 3 || (t.dim() == 4 && t.size(1) == E), kMembersOp, ": expected ", name,
              " of shape (seq_len, batch, ", size, ") shared by the members or (seq_len, members, batch, ", size,
              ") with members = ", E, " (the length of alpha), but got shape ", shape_str(t.sizes()));
  return t.dim() == 3 ? t : t.select(1, e);
}

// A per-member list: E values, or (when `optional`) none for all-default.
inline void check_member_list(size_t size, int64_t E, const char* name, bool optional) {
  TORCH_CHECK(static_cast<int64_t>(size) == E || (optional && size == 0), kMembersOp, ": expected ", name,
              " to hold one value per member (", E, ", the length of alpha)", optional ? " or none" : "",
              ", but got ", size, " values");
}

// A flat list of E equal slices (k values per member, k = size / E); member e's slice.
inline c10::ArrayRef<double> member_slice(c10::ArrayRef<double> values, int64_t E, int64_t e, const char* name) {
  TORCH_CHECK(values.size() % E == 0, kMembersOp, ": expected ", name, " to hold the same number of values for each ",
              "of the ", E, " members (members x values, member-major), but got ", values.size(), " values");
  const size_t k = values.size() / E;
  return values.slice(e * k, k);
}

// The views of every member; checks the stacking (the member dimension and the lists' lengths), not the members.
inline std::vector<MemberViews> member_views(const OnlineLearnMembersArgs& m) {
  TORCH_CHECK(!m.alpha.empty(), kMembersOp, ": expected alpha to hold one value per member (at least one member), ",
              "but got an empty list");
  const int64_t E = static_cast<int64_t>(m.alpha.size());
  check_member_list(m.lr.size(), E, "lr", false);
  check_member_list(m.l2.size(), E, "l2", true);
  check_member_list(m.optimizer_steps.size(), E, "optimizer_steps", true);
  // a shared input made contiguous once, not once per member
  const at::Tensor x = m.x.dim() == 3 ? m.x.contiguous() : m.x, y = m.y.dim() == 3 ? m.y.contiguous() : m.y;
  std::vector<MemberViews> members(E);
  for (int64_t e = 0; e < E; ++e) {
    MemberViews& v = members[e];
    v.op = std::string(kMembersOp) + " (member " + std::to_string(e) + ")";
    v.x = member_input(x, E, e, "x", "input_size");
    v.y = member_input(y, E, e, "y", "output_size");
    v.hidden = member_of(m.hidden, E, e, "hidden", "(members, batch, hidden_size)");
    v.weight_hh = member_of(m.weight_hh, E, e, "weight_hh", "(members, hidden_size, hidden_size)");
    v.weight_ih = member_of(m.weight_ih, E, e, "weight_ih", "(members, hidden_size, input_size)");
    v.bias = member_of(m.bias, E, e, "bias", "(members, hidden_size)");
    v.weight_out = member_of(m.weight_out, E, e, "weight_out", "(members, output_size, hidden_size)");
    v.bias_out = member_of(m.bias_out, E, e, "bias_out", "(members, output_size)");
    for (const at::Tensor& t : m.state) v.state.push_back(member_of(t, E, e, "state", "(members, ...)"));
    for (const at::Tensor& t : m.rule_tensors) {
      v.rule_tensors.push_back(member_of(t, E, e, "rule_tensors", "(members, ...)"));
    }
    v.rec_grad = member_of(m.rec_grad, E, e, "rec_grad", "(members, hidden_size, hidden_size + input_size + 1)");
    v.feedback = member_of(m.feedback, E, e, "feedback", "(members, output_size, hidden_size)");
    v.record = member_of(m.record, E, e, "record", "(members, seq_len, batch, 4, hidden_size)");
    v.optimizer_state = member_of(m.optimizer_state, E, e, "optimizer_state", "(members, optimizer_state_numel)");
    v.credit = member_of(m.credit, E, e, "credit", "(members, seq_len, batch, hidden_size)");
    if (m.lr_schedule) {  // (seq_len,) shared, or (members, seq_len)
      v.lr_schedule = m.lr_schedule->dim() == 1 ? *m.lr_schedule
                                                : member_of(*m.lr_schedule, E, e, "lr_schedule", "(members, seq_len)");
    }
    v.alpha = m.alpha[e];
    v.lr = m.lr[e];
    v.l2 = m.l2.empty() ? 0.0 : m.l2[e];
    v.optimizer_steps = m.optimizer_steps.empty() ? 0 : m.optimizer_steps[e];
    v.rule_options = member_slice(m.rule_options, E, e, "rule_options");
    v.optimizer_options = member_slice(m.optimizer_options, E, e, "optimizer_options");
  }
  return members;
}

template <typename Rules, typename MemberLoop>
at::Tensor online_learn_members_impl(const char* backend, const OnlineLearnMembersArgs& m) {
  at::AutoDispatchBelowADInplaceOrView below_autograd;  // not differentiable (online_learn_impl)
  const std::vector<MemberViews> members = member_views(m);
  const int64_t E = static_cast<int64_t>(members.size());
  // Every member checked (and its inputs made contiguous) before any runs: a refused call changes nothing.
  std::vector<CheckedOnlineLearn> checked;
  checked.reserve(E);
  for (const MemberViews& v : members) checked.push_back(check_online_learn<Rules>(backend, v.op.c_str(), v.args(m)));
  // The CPU's fast path for RFLO / e-prop stacks (cpu/members_simd_cpu.cpp, §2.10): the members in SIMD lanes,
  // each equal to its solo run to rounding rather than bitwise; it declines (undefined) every other call.
  if (checked.front().x.device().is_cpu()) {
    at::Tensor fast = online_members_simd(m, members, checked);
    if (fast.defined()) return fast;
  }
  // The kernels write a (T, B) contiguous losses tensor each; every buffer is allocated before the members run.
  std::vector<at::Tensor> losses;
  losses.reserve(E);
  for (const CheckedOnlineLearn& c : checked) losses.push_back(at::empty({c.args.T, c.args.B}, c.x.options()));
  MemberLoop::run(E, [&](int64_t e) { run_online_learn(members[e].args(m), checked[e], losses[e]); });
  return at::stack(losses, 1);  // (T, members, B)
}

}  // namespace torch_local_rnn
