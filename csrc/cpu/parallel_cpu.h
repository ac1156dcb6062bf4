// Shared CPU helpers: grain sizes for at::parallel_for and compile-time nonlinearity dispatch.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/LegacyTypeDispatch.h>

#include <algorithm>
#include <type_traits>

#include "../common/activation.h"

namespace torch_local_rnn {

// Elementwise loops below this many elements run on the calling thread: an OpenMP region
// costs a few microseconds, more than the work (the papers' n = 32 network is all such work).
constexpr int64_t kElementwiseGrain = 4096;

// Multiply-adds per task for loops whose items cost more than one element: below about this
// much work a loop stays on the calling thread (an OpenMP region per online step would cost more
// than the step at the papers' sizes, and far more on a loaded machine).
constexpr int64_t kWorkGrain = int64_t(1) << 17;

// Items per task for items that cost `work_per_item` multiply-adds each.
inline int64_t work_grain(int64_t work_per_item) {
  return std::max<int64_t>(1, kWorkGrain / std::max<int64_t>(1, work_per_item));
}

// online_learn_members' member loop on the CPU (common/online_learn_members_impl.h): the members split over the
// pool's threads (grain 1: E members on P threads run E / P each); a member's phases run on its thread
// (a nested at::parallel_for runs inline), so one member's arithmetic is that of online_learn on one thread.
struct ParallelMembers {
  template <typename F>
  static void run(int64_t E, const F& f) {
    at::parallel_for(0, E, 1, [&](int64_t lo, int64_t hi) {
      at::AutoDispatchBelowADInplaceOrView below_autograd;  // thread-local: set again on the pool's threads
      for (int64_t e = lo; e < hi; ++e) f(e);
    });
  }
};

// Calls body(std::integral_constant<Nonlinearity, F>{}) so inner loops see F at compile time
// and vectorise.
template <typename Body>
void dispatch_nonlinearity(Nonlinearity f, Body&& body) {
  switch (f) {
    case Nonlinearity::Tanh: body(std::integral_constant<Nonlinearity, Nonlinearity::Tanh>{}); break;
    case Nonlinearity::Relu: body(std::integral_constant<Nonlinearity, Nonlinearity::Relu>{}); break;
    default: body(std::integral_constant<Nonlinearity, Nonlinearity::Sigmoid>{}); break;
  }
}

}  // namespace torch_local_rnn
