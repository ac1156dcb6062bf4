// Which copy of the CPU online step a call runs (cpu/online_step_cpu.h, docs/design.md §1.6).
#include <cstdlib>
#include <cstring>
#include <string>

#include "online_step_cpu.h"

namespace torch_local_rnn {

bool online_step_uses_avx2() {
#if TLR_AVX2_STEP
  static const bool cpu_has_avx2 = __builtin_cpu_supports("avx2");
  if (!cpu_has_avx2) return false;
  const char* const mode = std::getenv("TLR_CPU_STEP");  // "baseline": the SSE2 copy (the tests' switch)
  return mode == nullptr || std::strcmp(mode, "baseline") != 0;
#else
  return false;
#endif
}

std::string online_step_isa_op() {
  if (!TLR_AVX2_STEP) return "baseline-only";  // no AVX2 copy in this build
  return online_step_uses_avx2() ? "avx2" : "baseline";
}

}  // namespace torch_local_rnn
