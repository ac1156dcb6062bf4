// The descriptors of DNI and DNI(b) (docs/algorithms.md §3.8, §4): [lr_sg, lr_j, fix_interval,
// approximate_jacobian, tanh_target, alpha_e, sg_l2, late_jacobian]; DNI(b) defaults to the learned
// Jacobian W_a and the tanh bootstrap. Online only: the synthetic credit is read out from the labels.
#include "../rule_helpers.h"

namespace torch_local_rnn {
namespace {

using namespace rules;

RuleOptions dni_options(const std::vector<double>& v, double) {
  return DniOptions{v[0], v[1], static_cast<int64_t>(v[2]), v[3] == 1.0, v[4] == 1.0, v[5], v[6], v[7] == 1.0};
}

// The apical weights A (n x (n + O + 1)) and their frozen copy, the Jacobian estimate, the previous
// step's credit and label, the refresh counter and the synaptic eligibility trace.
std::vector<StateSpec> dni_state(const RuleOptions&, const RuleSizes& s) {
  const int64_t K = s.n + s.O + 1;
  const char* apical = "(hidden_size, hidden_size + output_size + 1)";
  return {{"sg_weight", "A", {s.n, K}, apical},
          {"sg_frozen", "A_frozen", {s.n, K}, apical},
          {"sg_jacobian", "jacobian", {s.n, s.n}, "(hidden_size, hidden_size)"},
          {"sg_q_prev", "q_prev", {s.B, s.n}, kPerUnit},
          {"sg_label_prev", "label_prev", {s.B, s.O}, "(batch, output_size)"},
          {"sg_count", "count", {1}, "(1,)"},
          {"eligibility", "eligibility", {s.B, s.n, presynaptic(s)}, kPerSynapse}};
}

RuleDescriptor dni_rule(const char* name, bool learned) {
  const double on = learned ? 1.0 : 0.0;
  return {.name = name,
          .options = {{"lr_sg", OptionKind::NonNegative, 1e-3},
                      {"lr_j", OptionKind::NonNegative, 1e-3},
                      {"fix_interval", OptionKind::Count, 5.0},
                      {"approximate_jacobian", OptionKind::Flag, on},
                      {"tanh_target", OptionKind::Flag, on},
                      {"alpha_e", OptionKind::Fraction, 0.0, 0, "to be in [0, 1] (0: no eligibility trace)"},
                      {"sg_l2", OptionKind::NonNegative, 0.0},
                      {"late_jacobian", OptionKind::Flag, 0.0}},
          .counts = {0, 7, 8},
          .no_sequence_form = "its synthetic credit is read out from the labels y*_t, which leaky_rnn never sees; "
                              "train it online (OnlineLearner, online_learn)",
          .make = &dni_options,
          .state = &dni_state,
          .state_label = "dni",
          .state_layout = "[A (hidden_size, hidden_size + output_size + 1), A_frozen (same), jacobian (hidden_size, "
                          "hidden_size), q_prev (batch, hidden_size), label_prev (batch, output_size), count (1), "
                          "eligibility (batch, hidden_size, hidden_size + input_size + 1)]",
          .records = true};
}

const bool registered = register_rule(dni_rule("dni", false)) && register_rule(dni_rule("dni_b", true));

}  // namespace
}  // namespace torch_local_rnn
