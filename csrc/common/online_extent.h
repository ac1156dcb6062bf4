// The sizes of an online step that decide where the GPU runs it (docs/design.md §3.7), host-compiled so that
// the C++ tests reach them: the widest phase (grid or one block) and the largest index (32-bit indices or not).
// The GPU's kernels are in kernels/online_rule_grid.cuh and kernels/online_rule.cuh.
#pragma once

#include <cstdint>
#include <type_traits>

namespace torch_local_rnn {
namespace kernels {

template <typename Rule, typename = void>
struct RuleHasGridItems : std::false_type {};
template <typename Rule>
struct RuleHasGridItems<Rule, std::void_t<decltype(Rule::grid_items(int64_t(), int64_t(), int64_t()))>>
    : std::true_type {};

// The elements of a step's widest phase: B n m (m = n + I + 1: a (B, n, m) trace, the B streams' terms of
// G), or more where the rule says so (a static Rule::grid_items(B, n, I), e.g. RTRL's n x n*m product).
template <typename Rule>
int64_t online_grid_items(int64_t B, int64_t n, int64_t I) {
  const int64_t items = B * n * (n + I + 1);
  if constexpr (RuleHasGridItems<Rule>::value) {
    const int64_t own = Rule::grid_items(B, n, I);
    return own > items ? own : items;
  } else {
    return items;
  }
}

// The largest index an online step of Rule may form (into a buffer, or as a loop's count): the B streams' widest
// phase (the (B, n, m) trace; B times RTRL's own n x n m, its influence matrices), DNI's n x (n + O + 1)
// synthesiser, the readout's O x (n + 1 + B) and the activity (4 B n + B O). The one-block kernels index in
// 32 bits (BlockExec32) below common/gpu_paths.h's kBlockIndexLimit. Indices formed from the step t (x_t's
// offset) and the truncated rules' history slots stay 64-bit everywhere.
template <typename Rule>
int64_t online_index_extent(int64_t B, int64_t n, int64_t I, int64_t O) {
  int64_t extent = B * n * (n + I + 1);
  if constexpr (RuleHasGridItems<Rule>::value) {
    const int64_t own = B * Rule::grid_items(B, n, I);
    extent = own > extent ? own : extent;
  }
  const int64_t others[] = {n * (n + O + 1), O * (n + 1 + B), 4 * B * n + B * O};
  for (const int64_t other : others) extent = other > extent ? other : extent;
  return extent;
}

}  // namespace kernels
}  // namespace torch_local_rnn
