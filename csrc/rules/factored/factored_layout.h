// What the stochastic factored approximations of RTRL (UORO, KF-RTRL, R-KF-RTRL; docs/algorithms.md
// §3.3-3.5) carry and read, and the checks of their ops, shared by the CPU and CUDA glue (through
// rules/factored/factored_call.h) so both backends accept and reject the same calls.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <string>

#include "../../common/checks.h"
#include "../../common/noise.h"
#include "../../common/online_checks.h"
#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include <variant>
#include "../../common/sequence_rule.h"

namespace torch_local_rnn {

// The shapes a factored rule carries: A (a_size), B (b_rows, b_cols), and the noise width k of
// rule_tensors[0] (seq_len, batch, k); the strings name them in errors.
struct FactoredLayout {
  const char* rule;
  int64_t a_size, b_rows, b_cols, noise_width;
  const char *state_layout, *a_layout, *b_layout, *noise_layout;
};

// UORO: M[k, i, j] ~ A_k B_ij, noise nu in R^n.
inline FactoredLayout uoro_layout(int64_t n, int64_t m) {
  return {"uoro", n, n, m, n,
          "[A (batch, hidden_size), B (batch, hidden_size, hidden_size + input_size + 1)]",
          "(batch, hidden_size)", "(batch, hidden_size, hidden_size + input_size + 1)",
          "[noise (seq_len, batch, hidden_size)]"};
}

// KF-RTRL: M[k, i, j] ~ A_j B_ki, two noise scalars.
inline FactoredLayout kf_rtrl_layout(int64_t n, int64_t m) {
  return {"kf_rtrl", m, n, n, 2,
          "[A (batch, hidden_size + input_size + 1), B (batch, hidden_size, hidden_size)]",
          "(batch, hidden_size + input_size + 1)", "(batch, hidden_size, hidden_size)",
          "[noise (seq_len, batch, 2)]"};
}

// R-KF-RTRL: M[k, i, j] ~ A_i B_kj, noise nu in R^n.
inline FactoredLayout rkf_rtrl_layout(int64_t n, int64_t m) {
  return {"rkf_rtrl", n, n, m, n,
          "[A (batch, hidden_size), B (batch, hidden_size, hidden_size + input_size + 1)]",
          "(batch, hidden_size)", "(batch, hidden_size, hidden_size + input_size + 1)",
          "[noise (seq_len, batch, hidden_size)]"};
}

// The rule's noise, checked: rule_tensors = [nu (seq_len, batch, noise_width)], contiguous, or the noise
// counter [seed, offset, kind] (common/noise.h) from which nu is drawn here, nu[t, b, k] the draw
// offset + (t B + b) noise_width + k (docs/algorithms.md §2.5): LocalRNN's sequence form.
inline at::Tensor factored_noise(at::TensorList tensors, const at::Tensor& x, int64_t T, int64_t B,
                                 const FactoredLayout& L, const char* op) {
  check_rule_tensor_count(tensors, 1, op, L.rule, L.noise_layout);
  const std::string name = std::string("rule_tensors[0] (") + L.rule + " noise nu)";
  if (is_noise_counter(tensors[0])) {
    return noise_from_counter_tensor(tensors[0], {T, B, L.noise_width}, x, op, name.c_str());
  }
  const std::string layout = std::string(L.noise_layout).substr(7, std::string(L.noise_layout).size() - 8);
  return rule_tensor(tensors, 0, x, {T, B, L.noise_width}, op, name.c_str(), layout.c_str());
}

struct FactoredInputs {
  FactoredOptions options;
  at::Tensor noise;  // (T, B, noise_width), contiguous
};

// leaky_rnn_rule_backward's inputs of a factored rule: its options (the descriptor has refused the
// forward-difference variant, csrc/rules/factored/descriptor.cpp) and its noise, checked.
inline FactoredInputs check_factored_sequence(const SequenceArgs& a, const FactoredLayout& L, const char* op) {
  return {std::get<FactoredOptions>(a.options), factored_noise(a.tensors, a.x, a.x.size(0), a.x.size(1), L, op)};
}

// online_learn's inputs of a factored rule: options and noise (the state [A (batch, a_size), B (batch,
// b_rows, b_cols)] is checked against the descriptor by online_learn).
inline FactoredInputs check_factored_online(const OnlineCall& c, const FactoredLayout& L, const char* op) {
  return {std::get<FactoredOptions>(c.options), factored_noise(c.tensors, c.x, c.args.T, c.args.B, L, op)};
}

}  // namespace torch_local_rnn
