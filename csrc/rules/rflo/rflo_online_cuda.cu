// Online RFLO on the GPU: the shared step (rules/rflo/rflo_step.h) run by the block policy inside the
// persistent single-block kernel (kernels/online_step.cuh says why one block).
#include "../../cuda/online_cuda.h"
#include "../../kernels/online_step.cuh"
#include "rflo_step.h"

namespace torch_local_rnn {
namespace {

// rflo and eprop: state = [trace (B, n, m)], checked by online_learn (csrc/rules/rflo/descriptor.cpp).
void rflo_online_cuda(const OnlineCall& c) {
  const double rate = std::get<RfloOptions>(c.options).trace_alpha;
  at::Tensor ahat = at::empty({c.args.B, c.args.n + c.args.I + 1}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    return RfloTrace<kernels::BlockExec, scalar_t>{c.state[0].data_ptr<scalar_t>(), ahat.data_ptr<scalar_t>(),
                                                   static_cast<scalar_t>(rate)};
  });
}

const bool registered =
    CudaOnlineRules::add("rflo", &rflo_online_cuda) && CudaOnlineRules::add("eprop", &rflo_online_cuda);

}  // namespace
}  // namespace torch_local_rnn
