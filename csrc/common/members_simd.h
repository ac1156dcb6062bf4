// online_learn_members' CPU fast path (docs/algorithms.md §2.10): RFLO / e-prop members run in the SIMD lanes of
// member blocks (cpu/members_simd_cpu.cpp) instead of each member's scalar step. Declared here so the shared op
// (common/online_learn_members_impl.h) can try it; defined in the CPU library, which every build has.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace torch_local_rnn {

struct OnlineLearnMembersArgs;
struct MemberViews;
struct CheckedOnlineLearn;

// Runs the call on the fast path when it is eligible (members_simd_eligible below) and returns the losses
// (T, members, B); returns an undefined tensor, having written nothing, otherwise.
at::Tensor online_members_simd(const OnlineLearnMembersArgs& m, const std::vector<MemberViews>& members,
                               const std::vector<CheckedOnlineLearn>& checked);

// The calls that took the fast path since the library was loaded (the op members_simd_calls, for the tests).
int64_t members_simd_calls_op();

}  // namespace torch_local_rnn
