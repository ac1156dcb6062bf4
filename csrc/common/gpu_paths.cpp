// Host-compiled half of the GPU glue's switches and errors (gpu_paths.h says why it is not in the .cu files).
#include "gpu_paths.h"

#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>

namespace torch_local_rnn {

SequencePath sequence_path(const char* op) {
  const char* const mode = std::getenv("TLR_CUDA_SEQUENCE");  // read per call: the tests switch it
  if (mode == nullptr || *mode == '\0' || std::strcmp(mode, "auto") == 0) return SequencePath::Auto;
  if (std::strcmp(mode, "persistent") == 0) return SequencePath::Persistent;
  TORCH_CHECK(std::strcmp(mode, "stepwise") == 0, op, ": expected the environment variable TLR_CUDA_SEQUENCE to be ",
              "'auto', 'persistent' or 'stepwise', but got '", mode, "'");
  return SequencePath::Stepwise;
}

bool persistent_ran(const char* op, SequencePath path, const char* why_not, int64_t n, int64_t B, int64_t steps) {
  TORCH_CHECK(why_not == nullptr || path != SequencePath::Persistent, op, ": TLR_CUDA_SEQUENCE=persistent, but the ",
              "persistent kernel cannot run hidden_size = ", n, ", batch = ", B, ", seq_len = ", steps, ": ", why_not,
              "; unset TLR_CUDA_SEQUENCE to fall back to the stepwise path");
  return why_not == nullptr;
}

void check_stream_blocks(const char* op, const char* what, int64_t B, int64_t limit) {
  TORCH_CHECK(B <= limit, op, ": the CUDA kernel of ", what, " runs one block per stream, at most ", limit,
              " streams, but got batch = ", B);
}

}  // namespace torch_local_rnn
