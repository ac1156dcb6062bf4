// Scratch of a rule's step carved from one allocation: the glue sizes the allocation by the same list that
// carves it, so the two cannot disagree. Host only.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>

namespace torch_local_rnn {

// Points each part at consecutive blocks of one scratch allocation `base` (null: only counts) and returns the
// values used, so the glue sizes the allocation by the same list that carves it..
template <typename T>
int64_t carve_scratch(T* base, std::initializer_list<std::pair<T**, int64_t>> parts) {
  int64_t used = 0;
  for (const auto& part : parts) {
    *part.first = base == nullptr ? nullptr : base + used;
    used += part.second;
  }
  return used;
}

}  // namespace torch_local_rnn
