// F-BPTT(K) on the GPU (docs/algorithms.md §3.9, mirror of rules/truncated/f_bptt_cpu.cpp). Online: the persistent
// single-block kernel with the ring-buffer phase of rules/truncated/f_bptt_online.cuh. Sequence form: one
// block per stream accumulates the credit c_t of the K losses from t on (the CPU's order), and the
// shared GEMMs turn C_t = alpha phi'(h_t) (.) c_t into gradients (alpha = 1 with
// legacy_alpha_omission).
#include "f_bptt_online.cuh"
#include "history_cuda.h"

namespace torch_local_rnn {
namespace {

BackwardResult f_bptt_backward_cuda(const SequenceArgs& a) {
  return truncated_backward_cuda(a, "f_bptt", kernels::kFBpttVectors, true,
                                 [](auto zero) { return &kernels::f_bptt_credit_kernel<decltype(zero)>; });
}

void f_bptt_online_cuda(const OnlineCall& c) {
  run_history_rule_cuda<kernels::FBpttOnline>(c, "f_bptt", 2);
}

const bool registered = CudaSequenceRules::add("f_bptt", &f_bptt_backward_cuda) &&
                        CudaOnlineRules::add("f_bptt", &f_bptt_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
