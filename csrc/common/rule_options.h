// Which backward a differentiable leaky_rnn call routes to, parsed once from (rule, rule_options),
// and the option checks every form and backend of a rule shares.
#pragma once

#include <c10/util/ArrayRef.h>
#include <c10/util/string_view.h>

#include <cstdint>
#include <string>

#include "kernl_variant.h"

namespace torch_local_rnn {

// Bptt and Rflo have ops of their own; every other rule goes through leaky_rnn_rule_backward.
enum class SequenceRule : int { Bptt = 0, Rflo = 1, Local = 2 };

struct SequenceRuleConfig {
  SequenceRule rule;
  double trace_alpha;  // RFLO's trace rate alpha_R (algorithms.md §3.6); defaults to the network's alpha
};

// Validates the rule name and its options; the error names the accepted rules and option counts.
SequenceRuleConfig parse_sequence_rule(c10::string_view rule, c10::ArrayRef<double> options, double alpha,
                                       const char* op);

// Checks the options of the rules routed through the generic ops (leaky_rnn_rule_backward,
// online_learn): output_only [], rtrl [legacy?], f_bptt [truncation >= 1, legacy?], e_bptt
// [window >= 1, legacy?], uoro / kf_rtrl / rkf_rtrl (FactoredOptions), kernl, dni, dni_b.
// Returns false for a name it does not know.
bool check_local_rule_options(const std::string& rule, c10::ArrayRef<double> options, const char* op);

// dni and dni_b have no sequence form: a clear error.
void check_sequence_form(const std::string& rule, const char* op);

// The rules whose ops read no rule_tensors and record nothing reject them (a tensor passed to
// a rule that ignores it is a mistake, not a no-op); the others check their own.
void check_rule_extras(const std::string& rule, size_t rule_tensors, bool record, const char* op);

// options[k] as an integer >= 1, or an error naming the rule and the option.
int64_t positive_int_option(c10::ArrayRef<double> options, size_t k, const std::string& rule, const char* name,
                            const char* op);

// The factor of the immediate influence Mbar_t = alpha phi'(h_t) ahat_t^T: alpha, or 1 with
// legacy_alpha_omission (the 2019/2020 code's RTRL, UORO, KF-RTRL, R-KF-RTRL, F-BPTT, E-BPTT;
// algorithms.md §2.6). options[k] is the switch (0 or 1) when present.
double immediate_alpha(c10::ArrayRef<double> options, size_t k, double alpha);

// UORO, KF-RTRL, R-KF-RTRL (algorithms.md §3.3-3.5): [] or [legacy_alpha_omission] or
// [legacy_alpha_omission, rho0, rho1] (rho > 0 fixes the rescaling, 0 computes it), and for UORO
// also [..., epsilon] (epsilon > 0: the forward-difference variant).
struct FactoredOptions {
  bool legacy_alpha_omission = false;
  double rho0 = 0.0, rho1 = 0.0, epsilon = 0.0;
};
FactoredOptions parse_factored_options(const std::string& rule, c10::ArrayRef<double> options, const char* op);

// KeRNL (§3.7): [] or [sigma, lr, reset_interval] (reset_interval 0: never reset) or [..., version,
// learned_alpha_e] (version 0: 2020, 1: 2019 approximate kernel, 2: 2019 exact kernel; common/kernl_variant.h).
struct KernlOptions {
  double sigma = 1e-5, lr = 5.0;
  int64_t reset_interval = 0;
  KernlVersion version = KernlVersion::V2020;
  bool learned_alpha_e = false;
};
KernlOptions parse_kernl_options(c10::ArrayRef<double> options, const char* op);

// DNI and DNI(b) (§3.8, §4): [] or [lr_sg, lr_j, fix_interval, approximate_jacobian, tanh_target,
// alpha_e, sg_l2] or [..., late_jacobian]. Defaults: dni exact J, identity target; dni_b learned J (W_a)
// and tanh. late_jacobian: W_a learns after the apical step (the 2019 code's order), so the bootstrap
// at step t uses the W_a of step t - 1.
struct DniOptions {
  double lr_sg = 1e-3, lr_j = 1e-3;
  int64_t fix_interval = 5;
  bool approximate_jacobian = false, tanh_target = false;
  double alpha_e = 0.0;  // > 0: synaptic eligibility trace E <- (1 - alpha_e) E + alpha_e phi' ahat^T
  double sg_l2 = 0.0;
  bool late_jacobian = false;
};
DniOptions parse_dni_options(const std::string& rule, c10::ArrayRef<double> options, const char* op);

}  // namespace torch_local_rnn
