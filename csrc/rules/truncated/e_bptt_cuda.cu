// E-BPTT(K) on the GPU (docs/algorithms.md §3.10, mirror of rules/truncated/e_bptt_cpu.cpp). Online: the persistent
// single-block kernel with the window phase of rules/truncated/e_bptt_online.cuh. Sequence form: one block
// per stream runs BPTT's reverse-time credit recursion cut at window starts, and the shared GEMMs
// turn C_t = alpha phi'(h_t) (.) c_t into gradients (alpha = 1 with legacy_alpha_omission).
#include "e_bptt_online.cuh"
#include "history_cuda.h"

namespace torch_local_rnn {
namespace {

BackwardResult e_bptt_backward_cuda(const SequenceArgs& a) {
  return truncated_backward_cuda(a, "e_bptt", kernels::kEBpttVectors, false,
                                 [](auto zero) { return &kernels::e_bptt_credit_kernel<decltype(zero)>; });
}

void e_bptt_online_cuda(const OnlineCall& c) { run_history_rule_cuda<kernels::EBpttOnline>(c, "e_bptt", 1); }

const bool registered = CudaSequenceRules::add("e_bptt", &e_bptt_backward_cuda) &&
                        CudaOnlineRules::add("e_bptt", &e_bptt_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
