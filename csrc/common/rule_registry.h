// Name -> kernel tables for the learning rules, one table per (form, backend). A rule adds
// itself from its own file with a static registration, so a new rule is one file per backend:
//   static const bool registered = CpuSequenceRules::add("rtrl", &rtrl_backward_cpu);
#pragma once

#include <c10/util/Exception.h>

#include <map>
#include <sstream>
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

  // The rule's kernel; the error lists the rules this build has for this form and backend.
  static Fn get(const std::string& name, const char* op, const char* backend) {
    auto it = table().find(name);
    if (it != table().end()) return it->second;
    std::ostringstream known;
    for (const auto& entry : table()) known << (known.tellp() ? ", " : "") << "'" << entry.first << "'";
    TORCH_CHECK(false, op, ": expected rule to be one of ", known.str(), " (", backend, "), but got '", name, "'");
  }

 private:
  static std::map<std::string, Fn>& table() {
    static std::map<std::string, Fn> rules;  // function-local: safe from static-init order
    return rules;
  }
};

}  // namespace torch_local_rnn
