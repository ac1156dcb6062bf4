// The state the truncated BPTTs (f_bptt, e_bptt) carry across online steps: the last K steps'
// phi'(h_t), ahat_t and credit, each (K, B, .), and a step count; plus the per-call scratch.
#pragma once

#include <cmath>
#include <string>

#include "../common/rule_options.h"
#include "credit_cpu.h"
#include "online_step_cpu.h"

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

// Checks state = [dphi_history, input_history, credit_history, count] for K = rule_options[0]
// steps (the count an integer in [0, count_limit * K): it indexes the ring buffers), then runs
// the online loop with Rule<scalar_t>{History<scalar_t>}.
template <template <typename> class Rule>
void run_history_rule(const OnlineCall& c, const std::string& rule, const char* length, int64_t count_limit) {
  constexpr const char* op = "online_learn";
  const int64_t K = positive_int_option(c.options, 0, rule, length, op);
  check_state_count(c, 4, "[dphi_history, input_history, credit_history, count]", rule.c_str());
  const int64_t B = c.args.B, n = c.args.n, m = n + c.args.I + 1;
  const std::string per_unit = "(" + std::string(length) + ", batch, hidden_size)";
  const std::string per_input = "(" + std::string(length) + ", batch, hidden_size + input_size + 1)";
  const char* names[] = {"dphi_history", "input_history", "credit_history", "count"};
  const std::vector<int64_t> shapes[] = {{K, B, n}, {K, B, m}, {K, B, n}, {1}};
  const std::string layouts[] = {per_unit, per_input, per_unit, "(1,)"};
  for (size_t k = 0; k < 4; ++k) {
    const std::string name = "state[" + std::to_string(k) + "] (" + rule + " " + names[k] + ")";
    check_state(op, c.state[k], c.x, shapes[k], name.c_str(), layouts[k].c_str());
  }
  const double count = c.state[3].item<double>();
  TORCH_CHECK(std::isfinite(count) && count >= 0 && count < count_limit * K && count == std::floor(count), op,
              ": expected state[3] (", rule, " count) to hold an integer in [0, ", count_limit * K, "), but got ",
              count);
  at::Tensor scratch = at::empty({3 * B * n + n * m}, c.x.options());
  run_online_call(c, [&](auto zero) {
    using scalar_t = decltype(zero);
    scalar_t* s = scratch.data_ptr<scalar_t>();
    return Rule<scalar_t>{History<scalar_t>{K, c.state[0].data_ptr<scalar_t>(), c.state[1].data_ptr<scalar_t>(),
                                            c.state[2].data_ptr<scalar_t>(), c.state[3].data_ptr<scalar_t>(), s,
                                            s + B * n, s + 2 * B * n, s + 3 * B * n, rec_grad_ptr<scalar_t>(c),
                                            static_cast<scalar_t>(immediate_alpha(c.options, 1, c.alpha))}};
  });
}

}  // namespace torch_local_rnn
