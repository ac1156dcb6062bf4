// Online RFLO on the GPU (docs/algorithms.md §3.6, order of §2.1): the checks and buffers of the
// CPU version, then the shared persistent single-block kernel with RFLO's trace phase
// (rules/rflo/rflo_online.cuh; kernels/online_step.cuh says why one block).
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.

#include "rflo_online.cuh"
#include "../../cuda/online_cuda.h"

namespace torch_local_rnn {
namespace {

// rflo and eprop: state = [trace (B, n, m)], checked by online_learn (csrc/rules/rflo/descriptor.cpp).
void rflo_online_cuda(const OnlineCall& c) {
  const double rate = std::get<RfloOptions>(c.options).trace_alpha;
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    return kernels::RfloTrace<scalar_t>{c.state[0].data_ptr<scalar_t>(), static_cast<scalar_t>(rate)};
  });
}

const bool registered =
    CudaOnlineRules::add("rflo", &rflo_online_cuda) && CudaOnlineRules::add("eprop", &rflo_online_cuda);

}  // namespace


}  // namespace torch_local_rnn
