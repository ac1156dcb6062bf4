// KF-RTRL on the GPU (docs/algorithms.md §3.4): the factored drivers (rules/factored/factored_cuda.h, rules/factored/factored.cuh) with
// the rule's device Stream (rules/factored/kf_rtrl_online.cuh); mirror of rules/factored/kf_rtrl_cpu.cpp.
#include "kf_rtrl_online.cuh"
#include "factored_cuda.h"

namespace torch_local_rnn {
namespace {

const bool registered =
    CudaSequenceRules::add("kf_rtrl", &factored_backward_cuda<kernels::KfStream, kf_rtrl_layout>) &&
    CudaOnlineRules::add("kf_rtrl", &factored_online_cuda<kernels::KfStream, kf_rtrl_layout>);

}  // namespace
}  // namespace torch_local_rnn
