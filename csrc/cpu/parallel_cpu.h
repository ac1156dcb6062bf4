// Shared CPU helpers: grain sizes for at::parallel_for and compile-time nonlinearity dispatch.
#pragma once

#include <ATen/Parallel.h>

#include <type_traits>

#include "../common/activation.h"

namespace torch_local_rnn {

// Elementwise loops below this many elements run on the calling thread: an OpenMP region
// costs a few microseconds, more than the work (the papers' n = 32 network is all such work).
constexpr int64_t kElementwiseGrain = 4096;

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
