// The state layout, option parsing and argument checks of online DNI / DNI(b) (docs/algorithms.md §3.8,
// §4), shared by both backends (rules/dni/dni_cpu.cpp, rules/dni/dni_cuda.cu) so they accept exactly the same
// calls and name the same things in their errors.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <string>
#include <vector>

#include "../../common/checks.h"
#include "../../common/online_checks.h"
#include "../../common/online_rule.h"
#include "../../common/rule_options.h"
#include <variant>

namespace torch_local_rnn {

// Indices into the state list.
enum DniState : size_t { kDniA = 0, kDniAFrozen, kDniJacobian, kDniQPrev, kDniLabelPrev, kDniCount, kDniElig };

// What a checked DNI call carries besides the state: the parsed options and the optional credit
// override (T, B, n) that replaces U_t in G (contiguous; undefined when not given).
struct DniCall {
  DniOptions options;
  at::Tensor credit;
};

// The checks of an online DNI call beyond the state's shapes (online_learn checks those against the
// descriptor, csrc/rules/dni/descriptor.cpp): the fix_interval counter, rule_tensors = [] or [credit] and record (T, B, 4, n).
// The counter is read back with item() (on CUDA one small device-to-host copy per call): a
// counter outside [0, fix_interval) would silently skip or repeat a target refresh.
inline DniCall check_dni_call(const OnlineCall& c, const char* rule) {
  constexpr const char* op = "online_learn";
  DniCall d{std::get<DniOptions>(c.options), at::Tensor()};
  const int64_t T = c.args.T, B = c.args.B, n = c.args.n;
  check_counter_range(c.x, d.options.fix_interval, op, (std::string("state[5] (") + rule + " count)").c_str(),
                      "fix_interval");
  const double count = c.state[kDniCount].item<double>();
  TORCH_CHECK(std::isfinite(count) && count >= 0 && count < d.options.fix_interval && count == std::floor(count), op,
              ": expected state[5] (", rule, " count) to hold an integer in [0, fix_interval = ",
              d.options.fix_interval, "), but got ", count);
  TORCH_CHECK(c.tensors.size() <= 1, op, ": rule '", rule,
              "' expects rule_tensors = [] or [credit (seq_len, batch, hidden_size)] (the credit used in place of the "
              "synthetic gradient U_t), but got ", c.tensors.size(), " tensors");
  if (c.tensors.size() == 1) {
    d.credit = rule_tensor(c.tensors, 0, c.x, {T, B, n}, op, "rule_tensors[0] (dni credit)",
                           "(seq_len, batch, hidden_size)");
  }
  if (c.record) check_state(op, *c.record, c.x, {T, B, 4, n}, "record", "(seq_len, batch, 4, hidden_size)");
  return d;
}

}  // namespace torch_local_rnn
