// The GPU's path switches (read from the environment per call) and the GPU glue's size errors, defined in a
// host-compiled file (gpu_paths.cpp). The .cu glue only calls them: an error message that streams an integer
// inside an nvcc-compiled unit used an ostream instance nvcc emitted itself, which crashed in the H200 image's
// libstdc++ (docs/design.md §3.6), while the same message built by the host compiler is fine.
#pragma once

#include <cstdint>

namespace torch_local_rnn {

// TLR_CUDA_SEQUENCE: auto (unset; the persistent sequence kernel where it fits, else stepwise), persistent (an
// error where it does not fit) or stepwise (a GEMM and a pointwise launch per step). Any other value: an error
// naming the variable, the value and the accepted ones.
enum class SequencePath { Auto, Persistent, Stepwise };
SequencePath sequence_path(const char* op);

// Whether the persistent kernel ran (why_not is null); an error naming the sizes where TLR_CUDA_SEQUENCE=persistent
// asked for it and it could not run (why_not says why).
bool persistent_ran(const char* op, SequencePath path, const char* why_not, int64_t n, int64_t B, int64_t steps);

// A kernel that runs one block per stream takes at most `limit` streams: an error naming `what` and batch otherwise.
void check_stream_blocks(const char* op, const char* what, int64_t B, int64_t limit);

}  // namespace torch_local_rnn
