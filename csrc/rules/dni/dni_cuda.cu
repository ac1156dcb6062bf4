// Online DNI and DNI(b) on the GPU (docs/algorithms.md §3.8, §4; mirror of rules/dni/dni_cpu.cpp): the checks
// shared with the CPU (rules/dni/dni_layout.h), the rule's workspace, then the shared persistent
// single-block kernel with DNI's phases (rules/dni/dni_online.cuh). Online only: U_t reads the
// label y*_t, which the sequence form never sees, so there is no CudaSequenceRules entry.
#include "dni_layout.h"
#include "dni_online.cuh"
#include "../../cuda/online_cuda.h"

namespace torch_local_rnn {
namespace {

void dni_online_cuda(const OnlineCall& c, const char* rule) {
  const DniCall d = check_dni_call(c, rule);
  const DniOptions& o = d.options;
  const int64_t B = c.args.B, n = c.args.n, I = c.args.I, O = c.args.O, m = n + I + 1, K = n + O + 1;
  const c10::cuda::CUDAGuard guard(c.x.device());
  // in_prev, in_now (B, K); u, v, back, target, scratch, U_t (B, n); ahat (B, m).
  at::Tensor work = at::empty({2 * B * K + 6 * B * n + B * m}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    auto p = [&](size_t s) { return c.state[s].data_ptr<scalar_t>(); };
    scalar_t* w = work.data_ptr<scalar_t>();
    scalar_t *in_prev = w, *in_now = w + B * K, *u = w + 2 * B * K, *v = u + B * n, *back = v + B * n,
             *target = back + B * n, *scratch = target + B * n, *s = scratch + B * n, *ahat = s + B * n;
    kernels::DniOnline<scalar_t> r;
    r.A = p(kDniA);
    r.A_frozen = p(kDniAFrozen);
    r.J = p(kDniJacobian);
    r.q_prev = p(kDniQPrev);
    r.label_prev = p(kDniLabelPrev);
    r.count = p(kDniCount);
    r.elig = p(kDniElig);
    r.credit = d.credit.defined() ? d.credit.data_ptr<scalar_t>() : nullptr;
    r.record = c.record ? c.record->data_ptr<scalar_t>() : nullptr;
    r.lr_sg = static_cast<scalar_t>(o.lr_sg);
    r.lr_j = static_cast<scalar_t>(o.lr_j);
    r.alpha_e = static_cast<scalar_t>(o.alpha_e);
    r.sg_l2 = static_cast<scalar_t>(o.sg_l2);
    r.fix_interval = o.fix_interval;
    r.approximate_jacobian = o.approximate_jacobian;
    r.late_jacobian = o.late_jacobian;
    r.tanh_target = o.tanh_target;
    r.use_eligibility = o.alpha_e > 0;  // decided in double, as on the CPU
    r.in_prev = in_prev;
    r.in_now = in_now;
    r.u = u;
    r.v = v;
    r.back = back;
    r.target = target;
    r.scratch = scratch;
    r.s = s;
    r.ahat = ahat;
    r.rec_grad = rec_grad_ptr<scalar_t>(c);
    return r;
  });
}

void dni_cuda(const OnlineCall& c) { dni_online_cuda(c, "dni"); }
void dni_b_cuda(const OnlineCall& c) { dni_online_cuda(c, "dni_b"); }

const bool registered = CudaOnlineRules::add("dni", &dni_cuda) && CudaOnlineRules::add("dni_b", &dni_b_cuda);

}  // namespace
}  // namespace torch_local_rnn
