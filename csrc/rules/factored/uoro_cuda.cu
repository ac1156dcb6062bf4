// UORO on the GPU (docs/algorithms.md §3.3): the factored drivers (rules/factored/factored_cuda.h, rules/factored/factored.cuh) with
// the rule's device Stream (rules/factored/uoro_online.cuh); mirror of rules/factored/uoro_cpu.cpp.
#include "uoro_online.cuh"
#include "factored_cuda.h"

namespace torch_local_rnn {
namespace {

const bool registered =
    CudaSequenceRules::add("uoro", &factored_backward_cuda<kernels::UoroStream, uoro_layout>) &&
    CudaOnlineRules::add("uoro", &factored_online_cuda<kernels::UoroStream, uoro_layout>);

}  // namespace
}  // namespace torch_local_rnn
