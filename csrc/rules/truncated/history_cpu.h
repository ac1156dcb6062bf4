// The state the truncated BPTTs (f_bptt, e_bptt) carry across online steps: the last K steps'
// phi'(h_t), ahat_t and credit, each (K, B, .), and a step count; plus the per-call scratch.
#pragma once

#include <string>

#include "history_checks.h"
#include "../../common/rule_options.h"
#include "../../cpu/credit_cpu.h"
#include "../../cpu/online_step_cpu.h"

namespace torch_local_rnn {

template <typename scalar_t>
struct History {
  int64_t K;
  scalar_t *dphi, *ahat, *credit, *count;   // state[0..3]
  scalar_t *v, *v_next, *scratch, *G;       // (B, n) x 3 and (n, m) scratch
  scalar_t* rec_grad;
  scalar_t alpha_m;                         // the factor alpha of the gradient (1: legacy_alpha_omission)

  // Writes step t's phi'(h_t), ahat_t and q_t into ring slot `slot`.
  void store(int64_t slot, const OnlineNet<scalar_t>& net, const scalar_t* x, const OnlineActivity<scalar_t>& act) {
    const int64_t Bn = net.B * net.n, m = net.n + net.I + 1;
    std::copy(act.dphi, act.dphi + Bn, dphi + slot * Bn);
    presynaptic(act.prev, x, net.B, net.n, net.I, ahat + slot * net.B * m);
    std::copy(act.q, act.q + Bn, credit + slot * Bn);
  }
};

// Checks the state (rules/truncated/history_checks.h), then runs the online loop with
// Rule<scalar_t>{History<scalar_t>}.
template <template <typename> class Rule>
void run_history_rule(const OnlineCall& c, const std::string& rule, int64_t count_limit) {
  const int64_t K = check_history_state(c, rule, count_limit);
  const int64_t B = c.args.B, n = c.args.n, m = n + c.args.I + 1;
  at::Tensor scratch = at::empty({3 * B * n + n * m}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    scalar_t* s = scratch.data_ptr<scalar_t>();
    return Rule<scalar_t>{History<scalar_t>{K, c.state[0].data_ptr<scalar_t>(), c.state[1].data_ptr<scalar_t>(),
                                            c.state[2].data_ptr<scalar_t>(), c.state[3].data_ptr<scalar_t>(), s,
                                            s + B * n, s + 2 * B * n, s + 3 * B * n, rec_grad_ptr<scalar_t>(c),
                                            static_cast<scalar_t>(immediate_alpha(c.options, c.alpha))}};
  });
}

}  // namespace torch_local_rnn
