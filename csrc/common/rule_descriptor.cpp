#include "rule_descriptor.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "checks.h"
#include "online_checks.h"

namespace torch_local_rnn {
namespace {

std::map<std::string, RuleDescriptor>& registry() {
  static std::map<std::string, RuleDescriptor> rules;  // function-local: safe from static-init order
  return rules;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::ostringstream s;
  for (size_t k = 0; k < names.size(); ++k) s << (k ? ", " : "") << "'" << names[k] << "'";
  return s.str();
}

// 2^63: the first double an int64_t cannot hold (a larger truncation or window would wrap).
constexpr double kIntLimit = 9223372036854775808.0;

// What the error says a valid value of the kind is.
std::string expected_words(const OptionSpec& o) {
  if (o.expected != nullptr) return o.expected;
  switch (o.kind) {
    case OptionKind::Flag: return "to be 0 or 1";
    case OptionKind::Count: return "to be an integer >= 1";
    case OptionKind::Index: return "to be an integer >= 0";
    case OptionKind::NonNegative: return "to be a finite number >= 0";
    case OptionKind::Rate: return "to be in (0, 1]";
    case OptionKind::Fraction: return "to be in [0, 1]";
    case OptionKind::Choice: return "to be an integer in [0, " + std::to_string(o.choices) + ")";
  }
  return "";
}

bool valid(const OptionSpec& o, double v) {
  const bool integer = std::isfinite(v) && v == std::floor(v) && std::abs(v) < kIntLimit;
  switch (o.kind) {
    case OptionKind::Flag: return v == 0.0 || v == 1.0;
    case OptionKind::Count: return integer && v >= 1.0;
    case OptionKind::Index: return integer && v >= 0.0;
    case OptionKind::NonNegative: return std::isfinite(v) && v >= 0.0;
    case OptionKind::Rate: return v > 0.0 && v <= 1.0;
    case OptionKind::Fraction: return v >= 0.0 && v <= 1.0;
    case OptionKind::Choice: return integer && v >= 0.0 && v < static_cast<double>(o.choices);
  }
  return false;
}

}  // namespace

bool register_rule(RuleDescriptor rule) {
  if (rule.state_label.empty()) rule.state_label = rule.name;
  const std::string name = rule.name;
  registry()[name] = std::move(rule);
  return true;
}

std::vector<std::string> rule_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

const RuleDescriptor& find_rule(c10::string_view name, const char* op) {
  const auto it = registry().find(std::string(name));
  if (it != registry().end()) return it->second;
  TORCH_CHECK(false, op, ": expected rule to be one of ", quoted_list(rule_names()), ", but got '", std::string(name),
              "'");
}

std::string option_layout(const RuleDescriptor& rule, size_t count) {
  std::ostringstream s;
  s << "[";
  for (size_t k = 0; k < count; ++k) s << (k ? ", " : "") << rule.options[k].name;
  s << "]";
  return s.str();
}

RuleOptions parse_rule_options(const RuleDescriptor& rule, c10::ArrayRef<double> options, double alpha,
                               RuleForm form, const char* op) {
  const std::string& lacks = form == RuleForm::Sequence ? rule.no_sequence_form : rule.no_online_form;
  TORCH_CHECK(lacks.empty(), op, ": rule '", rule.name, "' has no ",
              form == RuleForm::Sequence ? "sequence" : "online", " form: ", lacks);
  if (rule.check != nullptr) rule.check(rule, options, form, op);
  if (std::find(rule.counts.begin(), rule.counts.end(), options.size()) == rule.counts.end()) {
    std::ostringstream layouts;
    for (size_t k = 0; k < rule.counts.size(); ++k) layouts << (k ? " or " : "") << option_layout(rule, rule.counts[k]);
    TORCH_CHECK(false, op, ": rule '", rule.name, "' takes rule_options = ", layouts.str(), ", but got ",
                options.size(), " values");
  }
  std::vector<double> values;
  for (size_t k = 0; k < rule.options.size(); ++k) {
    const OptionSpec& o = rule.options[k];
    if (k >= options.size()) {
      values.push_back(std::isnan(o.default_value) ? alpha : o.default_value);
      continue;
    }
    const double v = options[k];
    TORCH_CHECK(valid(o, v), op, ": expected ", o.name, " (rule_options[", k, "] of rule '", rule.name, "') ",
                expected_words(o), (std::isfinite(v) && std::abs(v) >= kIntLimit ? " (and below 2^63)" : ""),
                ", but got ", v);
    values.push_back(v);
  }
  return rule.make(values, alpha);
}

void check_rule_tensors(const RuleDescriptor& rule, at::TensorList rule_tensors, const char* op) {
  TORCH_CHECK(rule.reads_tensors || rule_tensors.empty(), op, ": rule '", rule.name, "' takes no rule_tensors, but got ",
              rule_tensors.size(), " tensors");
}

RuleOptions check_rule_call(c10::string_view rule, c10::ArrayRef<double> options, double alpha, RuleForm form,
                            const char* op) {
  check_rate(alpha, op, "alpha");
  return parse_rule_options(find_rule(rule, op), options, alpha, form, op);
}

std::vector<StateSpec> rule_state(const RuleDescriptor& rule, const RuleOptions& options, const RuleSizes& sizes) {
  return rule.state == nullptr ? std::vector<StateSpec>{} : rule.state(options, sizes);
}

void check_rule_state(const RuleDescriptor& rule, const RuleOptions& options, const RuleSizes& sizes,
                      at::TensorList state, const at::Tensor& x, const char* op) {
  const std::vector<StateSpec> specs = rule_state(rule, options, sizes);
  if (state.size() != specs.size()) {
    std::string layout = rule.state_layout;
    if (layout.empty()) {
      layout = "[";
      for (size_t k = 0; k < specs.size(); ++k) layout += (k ? ", " : "") + specs[k].symbol + " " + specs[k].layout;
      layout += "]";
    }
    TORCH_CHECK(false, op, ": rule '", rule.name, "' expects state = ", layout, ", but got ", state.size(),
                " tensors");
  }
  for (size_t k = 0; k < specs.size(); ++k) {
    const std::string name = "state[" + std::to_string(k) + "] (" + rule.state_label + " " + specs[k].symbol + ")";
    check_state(op, state[k], x, specs[k].shape, name.c_str(), specs[k].layout.c_str());
  }
}

// ------------------------------------------------------------------ the ops that report the descriptors

std::vector<std::string> rule_names_op() { return rule_names(); }

std::tuple<std::vector<std::string>, std::vector<double>, std::vector<int64_t>, bool, bool> rule_info_op(
    c10::string_view name) {
  const RuleDescriptor& rule = find_rule(name, "rule_info");
  std::vector<std::string> names;
  std::vector<double> defaults;
  for (const OptionSpec& o : rule.options) {
    names.emplace_back(o.name);
    defaults.push_back(o.default_value);
  }
  return {names, defaults, std::vector<int64_t>(rule.counts.begin(), rule.counts.end()), rule.no_sequence_form.empty(),
          rule.no_online_form.empty()};
}

void rule_check_op(c10::string_view name, c10::ArrayRef<double> options, double alpha, c10::string_view form) {
  TORCH_CHECK(form == "sequence" || form == "online", "rule_check: expected form to be 'sequence' or 'online', ",
              "but got '", std::string(form), "'");
  check_rule_call(name, options, alpha, form == "sequence" ? RuleForm::Sequence : RuleForm::Online, "rule_check");
}

std::tuple<std::vector<std::string>, std::vector<int64_t>, std::vector<int64_t>> rule_state_shapes_op(
    c10::string_view name, c10::ArrayRef<double> options, double alpha, int64_t batch, int64_t hidden_size,
    int64_t input_size, int64_t output_size) {
  constexpr const char* op = "rule_state_shapes";
  for (auto [v, what] : {std::pair<int64_t, const char*>{batch, "batch"}, {hidden_size, "hidden_size"},
                         {input_size, "input_size"}, {output_size, "output_size"}}) {
    TORCH_CHECK(v > 0 || (v == 0 && std::string(what) == "input_size"), op, ": expected ", what, " > 0, but got ", v);
  }
  check_rate(alpha, op, "alpha");
  const RuleDescriptor& rule = find_rule(name, op);
  const RuleOptions parsed = parse_rule_options(rule, options, alpha, RuleForm::Online, op);
  std::vector<std::string> names;
  std::vector<int64_t> ranks, sizes;
  for (const StateSpec& s : rule_state(rule, parsed, {batch, hidden_size, input_size, output_size})) {
    names.push_back(s.name);
    ranks.push_back(static_cast<int64_t>(s.shape.size()));
    sizes.insert(sizes.end(), s.shape.begin(), s.shape.end());
  }
  return {names, ranks, sizes};
}

}  // namespace torch_local_rnn
