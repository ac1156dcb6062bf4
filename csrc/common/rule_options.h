// The typed options of every rule: what an op call's rule_options become after the one parse at the
// op boundary (common/rule_descriptor.h), passed down to the kernels as RuleOptions.
#pragma once

#include <cstdint>
#include <variant>

#include "../rules/kernl/kernl_variant.h"

namespace torch_local_rnn {

// bptt, output_only: nothing to choose.
struct NoOptions {};

// rtrl: legacy_alpha_omission (docs/algorithms.md §2.6): the factor of the immediate influence
// Mbar_t = alpha phi'(h_t) ahat_t^T is 1 instead of alpha, as in the 2019/2020 code.
struct RtrlOptions {
  bool legacy_alpha_omission = false;
};

// f_bptt (truncation), e_bptt (window): the number of steps of history (§3.9, §3.10).
struct TruncatedOptions {
  int64_t length = 1;
  bool legacy_alpha_omission = false;
};

// rflo, eprop (§3.6): the trace's rate alpha_R (eprop: always the network's alpha).
struct RfloOptions {
  double trace_alpha = 1.0;
};

// uoro, kf_rtrl, rkf_rtrl (§3.3-3.5): rho > 0 fixes the variance-balancing rescaling, 0 computes it;
// epsilon > 0 (uoro, online only): the forward-difference variant.
struct FactoredOptions {
  bool legacy_alpha_omission = false;
  double rho0 = 0.0, rho1 = 0.0, epsilon = 0.0;
};

// kernl (§3.7): perturbation size, learning rate of A and the rates, reset interval of the
// perturbed copy (0: never), kernel version (rules/kernl/kernl_variant.h), learned alpha_e.
struct KernlOptions {
  double sigma = 1e-5, lr = 5.0;
  int64_t reset_interval = 0;
  KernlVersion version = KernlVersion::V2020;
  bool learned_alpha_e = false;
};

// dni, dni_b (§3.8, §4). late_jacobian: W_a learns after the apical step (the 2019 code's order), so
// the bootstrap at step t uses the W_a of step t - 1.
struct DniOptions {
  double lr_sg = 1e-3, lr_j = 1e-3;
  int64_t fix_interval = 5;
  bool approximate_jacobian = false, tanh_target = false;
  double alpha_e = 0.0;  // > 0: synaptic eligibility trace E <- (1 - alpha_e) E + alpha_e phi' ahat^T
  double sg_l2 = 0.0;
  bool late_jacobian = false;
};

using RuleOptions =
    std::variant<NoOptions, RtrlOptions, TruncatedOptions, RfloOptions, FactoredOptions, KernlOptions, DniOptions>;

// The factor of the immediate influence Mbar_t = alpha phi'(h_t) ahat_t^T: alpha, or 1 with
// legacy_alpha_omission (§2.6).
inline double immediate_alpha(const RuleOptions& options, double alpha) {
  bool legacy = false;
  if (const auto* o = std::get_if<RtrlOptions>(&options)) legacy = o->legacy_alpha_omission;
  if (const auto* o = std::get_if<TruncatedOptions>(&options)) legacy = o->legacy_alpha_omission;
  if (const auto* o = std::get_if<FactoredOptions>(&options)) legacy = o->legacy_alpha_omission;
  return legacy ? 1.0 : alpha;
}

}  // namespace torch_local_rnn
