// A rule's descriptor: its name, its options (names, kinds, defaults, the accepted counts), its forms and
// the state its online form carries. Each rule declares it once, in its own file (csrc/rules/<rule>.cpp);
// every op reads it from here: the ops parse rule_options into the typed RuleOptions once, at their
// boundary, and check the state against the declared shapes; rule_info / rule_state_shapes report the
// same declarations to Python, so a config is checked when it is made, not in backward.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/string_view.h>

#include <cstdint>
#include <string>
#include <vector>

#include "rule_options.h"

namespace torch_local_rnn {

// How an option value is checked, and what the error says was expected.
enum class OptionKind {
  Flag,         // 0 or 1
  Count,        // an integer >= 1
  Index,        // an integer >= 0
  NonNegative,  // a finite number >= 0
  Rate,         // in (0, 1]
  Fraction,     // in [0, 1]
  Choice,       // an integer in [0, choices)
};

struct OptionSpec {
  const char* name;
  OptionKind kind;
  double default_value;            // NaN: the network's alpha
  int64_t choices = 0;             // Choice: the number of values
  const char* expected = nullptr;  // the error's words for a valid value, when the kind's are not enough
};

struct RuleSizes {
  int64_t B, n, I, O;  // streams, hidden units, inputs, outputs
};

// One tensor the online form carries: its name (the learner's buffer), its symbol in the math (the
// errors' name for it), its shape, and the shape in words for the errors.
struct StateSpec {
  std::string name, symbol;
  std::vector<int64_t> shape;
  std::string layout;
};

enum class RuleForm { Sequence, Online };

struct RuleDescriptor {
  std::string name;
  std::vector<OptionSpec> options;
  std::vector<size_t> counts;  // accepted lengths of rule_options, each a prefix of `options`
  // Why the rule has no such form (empty: it has one).
  std::string no_sequence_form, no_online_form;
  // The typed options from the checked values (every option present, defaults filled in).
  RuleOptions (*make)(const std::vector<double>& values, double alpha);
  // The online state, in order (none when null).
  std::vector<StateSpec> (*state)(const RuleOptions& options, const RuleSizes& sizes) = nullptr;
  // Checks across options beyond each value's kind, given the raw rule_options (may be null).
  void (*check)(const RuleDescriptor& rule, c10::ArrayRef<double> options, RuleForm form, const char* op) = nullptr;
  // The name the state errors use ("state[0] (dni A)"); defaults to `name`.
  std::string state_label;
  // The state list in the count error, when the generated one is not the clearest (may be empty).
  std::string state_layout;
  bool records = false;       // fills online_learn's `record`
  bool reads_tensors = true;  // reads rule_tensors (noise, learned rates, a credit override); else none may come
};

// Adds a rule (from a static initialiser in the rule's file); returns true.
bool register_rule(RuleDescriptor rule);

// The rule of that name; the error names the op and lists the rules.
const RuleDescriptor& find_rule(c10::string_view name, const char* op);
std::vector<std::string> rule_names();

// The one parse of an op call: the rule must have the form, the options their count and kinds.
RuleOptions parse_rule_options(const RuleDescriptor& rule, c10::ArrayRef<double> options, double alpha, RuleForm form,
                               const char* op);

// A rule that reads no rule_tensors refuses them (a tensor passed to a rule that ignores it is a mistake).
void check_rule_tensors(const RuleDescriptor& rule, at::TensorList rule_tensors, const char* op);

// alpha checked, then the named rule's options for the form: what leaky_rnn (both its kernels) and
// rule_check do before anything else.
RuleOptions check_rule_call(c10::string_view rule, c10::ArrayRef<double> options, double alpha, RuleForm form,
                            const char* op);

// The online state the rule carries for these sizes.
std::vector<StateSpec> rule_state(const RuleDescriptor& rule, const RuleOptions& options, const RuleSizes& sizes);

// Checks `state` against rule_state: count, then each tensor's dtype and device (those of x), shape
// and contiguity (it is updated in place).
void check_rule_state(const RuleDescriptor& rule, const RuleOptions& options, const RuleSizes& sizes,
                      at::TensorList state, const at::Tensor& x, const char* op);

// "[a, b, c]" of a rule's option names, the first `count`.
std::string option_layout(const RuleDescriptor& rule, size_t count);

}  // namespace torch_local_rnn
