// F-BPTT(K), "future-facing" truncated BPTT (docs/algorithms.md §3.9). Each step t pushes
// (phi'(h_t), ahat_t, c_t = q_t) and sends q_t back through the stored steps,
//   v <- J(h_{t-i+1})^T v,  c_{t-i} += v   for i = 1 .. K-1  (J rebuilt with the current W_hh),
// then, once K steps are stored, applies the oldest step's gradient (c_s (.) alpha phi'(h_s)) ahat_s^T,
// s = t - K + 1: a delayed update that holds losses s .. t. The sequence form gives every step the
// credit of the K losses from it on; with K >= T that is the BPTT gradient.
#include <ATen/ATen.h>

#include "../../common/rule_options.h"
#include "../../common/sequence_rule.h"
#include "history_cpu.h"

namespace torch_local_rnn {
namespace {

template <typename scalar_t>
struct FBpttRule {
  History<scalar_t> h;

  void step(const OnlineNet<scalar_t>& net, const scalar_t* x, const OnlineActivity<scalar_t>& act) {
    const int64_t B = net.B, n = net.n, m = n + net.I + 1, Bn = B * n, K = h.K;
    const int64_t c = static_cast<int64_t>(*h.count), slot = c % K;
    h.store(slot, net, x, act);
    std::copy(act.q, act.q + Bn, h.v);
    const int64_t stored = std::min(c + 1, K);
    for (int64_t i = 1; i < stored; ++i) {
      const int64_t newer = (c - i + 1) % K, older = (c - i) % K;
      jacobian_transpose(net.weight_hh, B, n, net.alpha, h.dphi + newer * Bn, h.v, h.v_next, h.scratch);
      std::swap(h.v, h.v_next);
      scalar_t* credit = h.credit + older * Bn;
      for (int64_t r = 0; r < Bn; ++r) credit[r] += h.v[r];
    }
    if (stored == K) {
      const int64_t oldest = (c + 1) % K;
      std::fill(h.G, h.G + n * m, scalar_t(0));
      add_credit_outer(h.G, h.credit + oldest * Bn, h.dphi + oldest * Bn, h.ahat + oldest * B * m, B, n, m,
                       h.alpha_m, scalar_t(1) / B);
      apply_recurrent_update(net, h.G, h.rec_grad);
    }
    // Kept below 2K (same slot, same "full"), so a float count stays exact on any stream length.
    *h.count = static_cast<scalar_t>(c + 1 >= 2 * K ? c + 1 - K : c + 1);
  }
};

BackwardResult f_bptt_backward_cpu(const SequenceArgs& a) {
  const int64_t K = std::get<TruncatedOptions>(a.options).length;
  const int64_t T = a.x.size(0), B = a.x.size(1), n = a.weight_hh.size(0), Bn = B * n;
  at::Tensor credit = at::zeros({T, B, n}, a.x.options());
  at::Tensor work = at::empty({3 * Bn}, a.x.options());
  AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
    const scalar_t alpha = static_cast<scalar_t>(a.alpha);
    const scalar_t *g = a.grad_output.data_ptr<scalar_t>(), *d = a.dphi.data_ptr<scalar_t>();
    const scalar_t* w = a.weight_hh.data_ptr<scalar_t>();
    scalar_t* c = credit.data_ptr<scalar_t>();
    scalar_t *v = work.data_ptr<scalar_t>(), *v_next = v + Bn, *scratch = v + 2 * Bn;
    for (int64_t t = 0; t < T; ++t) {
      std::copy(g + t * Bn, g + (t + 1) * Bn, v);
      for (int64_t r = 0; r < Bn; ++r) c[t * Bn + r] += v[r];
      for (int64_t i = 1; i < K && i <= t; ++i) {
        jacobian_transpose(w, B, n, alpha, d + (t - i + 1) * Bn, v, v_next, scratch);
        std::swap(v, v_next);
        for (int64_t r = 0; r < Bn; ++r) c[(t - i) * Bn + r] += v[r];
      }
    }
  });
  return result_from_credit(a, immediate_alpha(a.options, a.alpha) * a.dphi * credit);
}

// The count stays below 2K (FBpttRule::step).
void f_bptt_online_cpu(const OnlineCall& c) { run_history_rule<FBpttRule>(c, "f_bptt", 2); }

const bool registered = CpuSequenceRules::add("f_bptt", &f_bptt_backward_cpu) &&
                        CpuOnlineRules::add("f_bptt", &f_bptt_online_cpu);

}  // namespace
}  // namespace torch_local_rnn
