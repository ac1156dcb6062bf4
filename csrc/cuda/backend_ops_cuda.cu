// online_learn, leaky_rnn_rule_backward and their aliases on the GPU (common/backend_ops.h) under the
// device guard of x; each rule's kernels live in rules/<rule>/. online_learn_members runs its members in one
// launch (BatchedMembers, cuda/online_members_cuda.h).
#include <c10/cuda/CUDAGuard.h>

#include "../common/backend_ops.h"
#include "online_members_cuda.h"

namespace torch_local_rnn {
namespace {
constexpr char kCuda[] = "CUDA";
}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CUDA, m) { BackendOps<CudaOnlineRules, CudaSequenceRules, kCuda, c10::cuda::CUDAGuard, BatchedMembers>::define(m); }

}  // namespace torch_local_rnn
