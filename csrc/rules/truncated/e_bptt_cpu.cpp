// E-BPTT(K), efficient truncated BPTT over non-overlapping windows (docs/algorithms.md §3.10). Each step
// stores (phi'(h_t), ahat_t, q_t); when a window of K steps is full, exact BPTT inside it,
//   c <- q_t;  G += (c (.) alpha phi'(h_s)) ahat_s^T;  c <- q_{s-1} + J(h_s)^T c   (s = t .. t-K+1),
// is applied once (the sum of K per-step terms) and the history is cleared. Windows start at the
// first step (online: after a reset). The sequence form is BPTT with the credit cut at window
// starts, the last window possibly partial; with K >= T it is the BPTT gradient.
#include <ATen/ATen.h>

#include "../../common/rule_options.h"
#include "../../common/sequence_rule.h"
#include "history_cpu.h"

namespace torch_local_rnn {
namespace {

template <typename scalar_t>
struct EBpttRule {
  History<scalar_t> h;  // credit holds q_s here; v, v_next carry the window's credit back

  void step(const OnlineNet<scalar_t>& net, const scalar_t* x, const OnlineActivity<scalar_t>& act) {
    const int64_t B = net.B, n = net.n, m = n + net.I + 1, Bn = B * n, K = h.K;
    const int64_t slot = static_cast<int64_t>(*h.count);  // the position in the window
    h.store(slot, net, x, act);
    *h.count = static_cast<scalar_t>((slot + 1) % K);
    if (slot != K - 1) return;
    std::fill(h.G, h.G + n * m, scalar_t(0));
    std::copy(h.credit + slot * Bn, h.credit + (slot + 1) * Bn, h.v);
    for (int64_t s = K - 1; s >= 0; --s) {
      add_credit_outer(h.G, h.v, h.dphi + s * Bn, h.ahat + s * B * m, B, n, m, h.alpha_m, scalar_t(1) / B);
      if (s == 0) break;
      jacobian_transpose(net.weight_hh, B, n, net.alpha, h.dphi + s * Bn, h.v, h.v_next, h.scratch);
      for (int64_t r = 0; r < Bn; ++r) h.v[r] = h.credit[(s - 1) * Bn + r] + h.v_next[r];
    }
    apply_recurrent_update(net, h.G, h.rec_grad);
  }
};

BackwardResult e_bptt_backward_cpu(const SequenceArgs& a) {
  const int64_t K = std::get<TruncatedOptions>(a.options).length;
  const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0), Bn = B * n;
  at::Tensor credit = at::empty({T, B, n}, a.x.options());
  at::Tensor work = at::empty({2 * Bn}, a.x.options());
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
    const scalar_t alpha = static_cast<scalar_t>(a.alpha);
    const scalar_t *g = a.grad_output.data_ptr<scalar_t>(), *d = a.dphi.data_ptr<scalar_t>();
    const scalar_t* w = a.weight_hh.data_ptr<scalar_t>();
    scalar_t* c = credit.data_ptr<scalar_t>();
    scalar_t *back = work.data_ptr<scalar_t>(), *scratch = back + Bn;
    for (int64_t t = T - 1; t >= 0; --t) {
      std::copy(g + t * Bn, g + (t + 1) * Bn, c + t * Bn);
      if (t + 1 < T && (t + 1) % K != 0) {  // credit flows back within a window only
        jacobian_transpose(w, B, n, alpha, d + (t + 1) * Bn, c + (t + 1) * Bn, back, scratch);
        for (int64_t r = 0; r < Bn; ++r) c[t * Bn + r] += back[r];
      }
    }
  });
  return result_from_credit(a, immediate_alpha(a.options, a.alpha) * a.dphi * credit);
}

void e_bptt_online_cpu(const OnlineCall& c) { run_history_rule<EBpttRule>(c, "e_bptt", 1); }

const bool registered = CpuSequenceRules::add("e_bptt", &e_bptt_backward_cpu) &&
                        CpuOnlineRules::add("e_bptt", &e_bptt_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
