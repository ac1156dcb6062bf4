#include "rule_options.h"

#include <cmath>

#include "checks.h"

namespace torch_local_rnn {
namespace {

void check_count(const std::string& rule, c10::ArrayRef<double> options, size_t count, const char* layout,
                 const char* op) {
  TORCH_CHECK(options.size() == count, op, ": rule '", rule, "' takes rule_options = ", layout, ", but got ",
              options.size(), " values");
}

void check_count_range(const std::string& rule, c10::ArrayRef<double> options, size_t lo, size_t hi,
                       const char* layout, const char* op) {
  TORCH_CHECK(options.size() >= lo && options.size() <= hi, op, ": rule '", rule, "' takes rule_options = ", layout,
              ", but got ", options.size(), " values");
}

bool flag_option(c10::ArrayRef<double> options, size_t k, const std::string& rule, const char* name, const char* op) {
  const double v = options[k];
  TORCH_CHECK(v == 0.0 || v == 1.0, op, ": expected ", name, " (rule_options[", k, "] of rule '", rule,
              "') to be 0 or 1, but got ", v);
  return v == 1.0;
}

double nonnegative_option(c10::ArrayRef<double> options, size_t k, const std::string& rule, const char* name,
                          const char* op) {
  const double v = options[k];
  TORCH_CHECK(std::isfinite(v) && v >= 0.0, op, ": expected ", name, " (rule_options[", k, "] of rule '", rule,
              "') to be a finite number >= 0, but got ", v);
  return v;
}

// options[k] as an integer >= lowest, or an error naming the rule and the option.
int64_t int_option(c10::ArrayRef<double> options, size_t k, const std::string& rule, const char* name, const char* op,
                   int64_t lowest) {
  const double v = options[k];
  TORCH_CHECK(std::isfinite(v) && v >= static_cast<double>(lowest) && v == std::floor(v), op, ": expected ", name,
              " (rule_options[", k, "] of rule '", rule, "') to be an integer >= ", lowest, ", but got ", v);
  return static_cast<int64_t>(v);
}

}  // namespace

void check_sequence_form(const std::string& rule, const char* op) {
  TORCH_CHECK(rule != "dni" && rule != "dni_b", op, ": rule '", rule,
              "' has no sequence form: its synthetic credit is read out from the labels y*_t, which leaky_rnn never ",
              "sees; train it online (OnlineLearner, online_learn)");
}

void check_rule_extras(const std::string& rule, size_t rule_tensors, bool record, const char* op) {
  const bool plain = rule == "output_only" || rule == "rtrl" || rule == "f_bptt" || rule == "e_bptt";
  TORCH_CHECK(!plain || rule_tensors == 0, op, ": rule '", rule, "' takes no rule_tensors, but got ", rule_tensors,
              " tensors");
  TORCH_CHECK(!record || rule == "dni" || rule == "dni_b", op, ": only rules 'dni' and 'dni_b' record per-step ",
              "signals, but got record for rule '", rule, "'");
}

double immediate_alpha(c10::ArrayRef<double> options, size_t k, double alpha) {
  return options.size() > k && options[k] == 1.0 ? 1.0 : alpha;
}

FactoredOptions parse_factored_options(const std::string& rule, c10::ArrayRef<double> options, const char* op) {
  const bool uoro = rule == "uoro";
  check_count_range(rule, options, 0, uoro ? 4 : 3,
                    uoro ? "[] or [legacy_alpha_omission] or [legacy_alpha_omission, rho0, rho1] or "
                           "[legacy_alpha_omission, rho0, rho1, epsilon]"
                         : "[] or [legacy_alpha_omission] or [legacy_alpha_omission, rho0, rho1]",
                    op);
  TORCH_CHECK(options.size() != 2, op, ": rule '", rule, "' takes rho0 and rho1 together (rule_options = ",
              "[legacy_alpha_omission, rho0, rho1]), but got 2 values");
  FactoredOptions o;
  if (options.size() >= 1) o.legacy_alpha_omission = flag_option(options, 0, rule, "legacy_alpha_omission", op);
  if (options.size() >= 3) {
    o.rho0 = nonnegative_option(options, 1, rule, "rho0", op);
    o.rho1 = nonnegative_option(options, 2, rule, "rho1", op);
  }
  if (options.size() == 4) o.epsilon = nonnegative_option(options, 3, rule, "epsilon", op);
  return o;
}

KernlOptions parse_kernl_options(c10::ArrayRef<double> options, const char* op) {
  const std::string rule = "kernl";
  TORCH_CHECK(options.empty() || options.size() == 3 || options.size() == 5, op,
              ": rule 'kernl' takes rule_options = [] or [sigma, lr, reset_interval] or [sigma, lr, reset_interval, "
              "version, learned_alpha_e], but got ", options.size(), " values");
  KernlOptions o;
  if (options.size() >= 3) {
    o.sigma = nonnegative_option(options, 0, rule, "sigma", op);
    o.lr = nonnegative_option(options, 1, rule, "lr", op);
    o.reset_interval = int_option(options, 2, rule, "reset_interval", op, 0);
  }
  if (options.size() == 5) {
    const int64_t v = int_option(options, 3, rule, "version", op, 0);
    TORCH_CHECK(v <= 2, op, ": expected version (rule_options[3] of rule 'kernl') to be 0 (2020), 1 (2019, "
                "approximate kernel) or 2 (2019, exact kernel), but got ", v);
    o.version = static_cast<KernlVersion>(v);
    o.learned_alpha_e = flag_option(options, 4, rule, "learned_alpha_e", op);
  }
  return o;
}

DniOptions parse_dni_options(const std::string& rule, c10::ArrayRef<double> options, const char* op) {
  TORCH_CHECK(options.empty() || options.size() == 7 || options.size() == 8, op, ": rule '", rule,
              "' takes rule_options = [] or [lr_sg, lr_j, fix_interval, approximate_jacobian, tanh_target, alpha_e, "
              "sg_l2] or [..., late_jacobian], but got ", options.size(), " values");
  DniOptions o;
  if (rule == "dni_b") o.approximate_jacobian = o.tanh_target = true;
  if (options.size() >= 7) {
    o.lr_sg = nonnegative_option(options, 0, rule, "lr_sg", op);
    o.lr_j = nonnegative_option(options, 1, rule, "lr_j", op);
    o.fix_interval = positive_int_option(options, 2, rule, "fix_interval", op);
    o.approximate_jacobian = flag_option(options, 3, rule, "approximate_jacobian", op);
    o.tanh_target = flag_option(options, 4, rule, "tanh_target", op);
    o.alpha_e = nonnegative_option(options, 5, rule, "alpha_e", op);
    TORCH_CHECK(o.alpha_e <= 1.0, op, ": expected alpha_e (rule_options[5] of rule '", rule,
                "') in [0, 1] (0: no eligibility trace), but got ", o.alpha_e);
    o.sg_l2 = nonnegative_option(options, 6, rule, "sg_l2", op);
    if (options.size() == 8) o.late_jacobian = flag_option(options, 7, rule, "late_jacobian", op);
  }
  return o;
}

int64_t positive_int_option(c10::ArrayRef<double> options, size_t k, const std::string& rule, const char* name,
                            const char* op) {
  return int_option(options, k, rule, name, op, 1);
}

bool check_local_rule_options(const std::string& rule, c10::ArrayRef<double> options, const char* op) {
  if (rule == "output_only") {
    check_count(rule, options, 0, "[]", op);
  } else if (rule == "rtrl") {
    check_count_range(rule, options, 0, 1, "[] or [legacy_alpha_omission]", op);
    if (!options.empty()) flag_option(options, 0, rule, "legacy_alpha_omission", op);
  } else if (rule == "f_bptt" || rule == "e_bptt") {
    const char* name = rule == "f_bptt" ? "truncation" : "window";
    check_count_range(rule, options, 1, 2,
                      rule == "f_bptt" ? "[truncation] or [truncation, legacy_alpha_omission]"
                                       : "[window] or [window, legacy_alpha_omission]",
                      op);
    positive_int_option(options, 0, rule, name, op);
    if (options.size() == 2) flag_option(options, 1, rule, "legacy_alpha_omission", op);
  } else if (rule == "uoro" || rule == "kf_rtrl" || rule == "rkf_rtrl") {
    parse_factored_options(rule, options, op);
  } else if (rule == "kernl") {
    parse_kernl_options(options, op);
  } else if (rule == "dni" || rule == "dni_b") {
    parse_dni_options(rule, options, op);
  } else {
    return false;
  }
  return true;
}

SequenceRuleConfig parse_sequence_rule(c10::string_view rule, c10::ArrayRef<double> options, double alpha,
                                       const char* op) {
  check_rate(alpha, op, "alpha");  // first: it is also RFLO's default trace_alpha
  if (rule == "bptt") {
    TORCH_CHECK(options.empty(), op, ": rule 'bptt' takes no rule_options, but got ", options.size());
    return {SequenceRule::Bptt, alpha};
  }
  if (rule == "rflo") {
    TORCH_CHECK(options.size() <= 1, op, ": rule 'rflo' takes rule_options = [trace_alpha] or [], but got ",
                options.size(), " values");
    const double trace_alpha = options.empty() ? alpha : options[0];
    check_rate(trace_alpha, op, "trace_alpha (rule_options[0] of rule 'rflo')");
    return {SequenceRule::Rflo, trace_alpha};
  }
  check_sequence_form(std::string(rule), op);
  if (check_local_rule_options(std::string(rule), options, op)) return {SequenceRule::Local, alpha};
  TORCH_CHECK(false, op, ": expected rule to be one of 'bptt', 'rflo', 'output_only', 'rtrl', 'f_bptt', 'e_bptt', ",
              "'uoro', 'kf_rtrl', 'rkf_rtrl', 'kernl' (rules with a sequence form), but got '", std::string(rule), "'");
}

}  // namespace torch_local_rnn
