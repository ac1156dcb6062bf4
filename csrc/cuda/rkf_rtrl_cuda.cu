// R-KF-RTRL on the GPU (docs/algorithms.md §3.5): the factored drivers (cuda/factored_cuda.h, kernels/factored.cuh) with
// the rule's device Stream (kernels/rkf_rtrl_online.cuh); mirror of cpu/rkf_rtrl_cpu.cpp.
#include "../kernels/rkf_rtrl_online.cuh"
#include "factored_cuda.h"

namespace torch_local_rnn {
namespace {

const bool registered =
    CudaSequenceRules::add("rkf_rtrl", &factored_backward_cuda<kernels::RkfStream, rkf_rtrl_layout>) &&
    CudaOnlineRules::add("rkf_rtrl", &factored_online_cuda<kernels::RkfStream, rkf_rtrl_layout>);

}  // namespace
}  // namespace torch_local_rnn
