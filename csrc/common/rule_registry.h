// Name -> kernel tables for the learning rules, one table per (form, backend). A rule adds
// itself from its own file with a static registration, so a new rule is one file per backend:
//   static const bool registered = CpuSequenceRules::add("rtrl", &rtrl_backward_cpu);
#pragma once

#include <c10/util/Exception.h>

#include <map>
#include <string>

namespace torch_local_rnn {

template <typename Fn, typename Tag>
class RuleTable {
 public:
  static bool add(const std::string& name, Fn fn) {
    table()[name] = fn;
    return true;
  }

  static bool has(const std::string& name) { return table().count(name) > 0; }

  // The kernel of a known rule (common/rule_descriptor.h has checked the name and the form).
  static Fn get(const std::string& name, const char* op, const char* backend) {
    auto it = table().find(name);
    TORCH_CHECK(it != table().end(), op, ": rule '", name, "' has no ", backend, " kernel in this build");
    return it->second;
  }

 private:
  static std::map<std::string, Fn>& table() {
    static std::map<std::string, Fn> rules;  // function-local: safe from static-init order
    return rules;
  }
};

}  // namespace torch_local_rnn
