// R-KF-RTRL on the GPU (docs/algorithms.md §3.5): the factored drivers (rules/factored/factored_cuda.h, rules/factored/factored.cuh) with
// the rule's device Stream (rules/factored/rkf_rtrl_online.cuh); mirror of rules/factored/rkf_rtrl_cpu.cpp.
#include "rkf_rtrl_online.cuh"
#include "factored_cuda.h"

namespace torch_local_rnn {
namespace {

const bool registered =
    CudaSequenceRules::add("rkf_rtrl", &factored_backward_cuda<kernels::RkfStream, rkf_rtrl_layout>) &&
    CudaOnlineRules::add("rkf_rtrl", &factored_online_cuda<kernels::RkfStream, rkf_rtrl_layout>);

}  // namespace
}  // namespace torch_local_rnn
