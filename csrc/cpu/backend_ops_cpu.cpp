// online_learn, leaky_rnn_rule_backward and their aliases on the CPU (common/backend_ops.h); each
// rule's kernels live in rules/<rule>/.
#include "../common/backend_ops.h"
#include "parallel_cpu.h"

namespace torch_local_rnn {
namespace {
constexpr char kCpu[] = "CPU";
}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { BackendOps<CpuOnlineRules, CpuSequenceRules, kCpu, NoDeviceGuard, ParallelMembers>::define(m); }

}  // namespace torch_local_rnn
