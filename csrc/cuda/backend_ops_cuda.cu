// online_learn, leaky_rnn_rule_backward and their aliases on the GPU (common/backend_ops.h) under the
// device guard of x; each rule's kernels live in rules/<rule>/.
#include <c10/cuda/CUDAGuard.h>

#include "../common/backend_ops.h"

namespace torch_local_rnn {
namespace {
constexpr char kCuda[] = "CUDA";
}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CUDA, m) { BackendOps<CudaOnlineRules, CudaSequenceRules, kCuda, c10::cuda::CUDAGuard, SerialMembers>::define(m); }

}  // namespace torch_local_rnn
