// RTRL's online state check (algorithms.md §3.2), shared by the CPU and CUDA online forms: one
// influence matrix M (n x n*m) per stream, M[k, i*m + j] = d a_k / d W_ij, m = n + I + 1.
#pragma once

#include "online_checks.h"
#include "online_rule.h"

namespace torch_local_rnn {

inline void check_rtrl_state(const OnlineCall& c) {
  check_state_count(c, 1, "[influence (batch, hidden_size, hidden_size * (hidden_size + input_size + 1))]", "rtrl");
  const int64_t B = c.args.B, n = c.args.n, m = n + c.args.I + 1;
  check_state("online_learn", c.state[0], c.x, {B, n, n * m}, "state[0] (rtrl influence)",
              "(batch, hidden_size, hidden_size * (hidden_size + input_size + 1))");
}

}  // namespace torch_local_rnn
