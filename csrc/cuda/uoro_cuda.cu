// UORO on the GPU (docs/algorithms.md §3.3): the factored drivers (cuda/factored_cuda.h, kernels/factored.cuh) with
// the rule's device Stream (kernels/uoro_online.cuh); mirror of cpu/uoro_cpu.cpp.
#include "../kernels/uoro_online.cuh"
#include "factored_cuda.h"

namespace torch_local_rnn {
namespace {

const bool registered =
    CudaSequenceRules::add("uoro", &factored_backward_cuda<kernels::UoroStream, uoro_layout>) &&
    CudaOnlineRules::add("uoro", &factored_online_cuda<kernels::UoroStream, uoro_layout>);

}  // namespace
}  // namespace torch_local_rnn
