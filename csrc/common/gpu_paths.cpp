// Host-compiled half of the GPU glue's switches and errors (gpu_paths.h says why it is not in the .cu files).
#include "gpu_paths.h"

#include <c10/util/Exception.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace torch_local_rnn {

namespace {

// The index of the environment variable's value among `choices` (unset or empty: 0, the default), read per call
// (the tests switch it); any other value is an error naming op, the variable, the value and the choices.
template <std::size_t N>
int env_choice(const char* op, const char* variable, const char* const (&choices)[N]) {
  static_assert(N >= 2, "a switch has a default and at least one other value");
  const char* const value = std::getenv(variable);
  if (value == nullptr || *value == '\0') return 0;
  for (std::size_t i = 0; i < N; ++i) {
    if (std::strcmp(value, choices[i]) == 0) return static_cast<int>(i);
  }
  std::string accepted;  // 'a', 'b' or 'c'
  for (std::size_t i = 0; i < N; ++i) {
    accepted += std::string(i == 0 ? "" : (i + 1 == N ? " or " : ", ")) + "'" + choices[i] + "'";
  }
  TORCH_CHECK(false, op, ": expected the environment variable ", variable, " to be ", accepted, " (unset: '",
              choices[0], "'), but got '", value, "'");
  return 0;
}

}  // namespace

SequencePath sequence_path(const char* op) {
  static constexpr const char* kChoices[] = {"auto", "persistent", "stepwise"};  // SequencePath's order
  return static_cast<SequencePath>(env_choice(op, "TLR_CUDA_SEQUENCE", kChoices));
}

PersistentKernel persistent_kernel(const char* op) {
  static constexpr const char* kChoices[] = {"auto", "warp", "cluster", "flags"};  // PersistentKernel's order
  return static_cast<PersistentKernel>(env_choice(op, "TLR_CUDA_PERSISTENT", kChoices));
}

OnlinePath online_path() {
  static constexpr const char* kChoices[] = {"auto", "block", "grid"};  // OnlinePath's order
  return static_cast<OnlinePath>(env_choice("online_learn (CUDA)", "TLR_CUDA_ONLINE", kChoices));
}

MembersChoice members_choice() {
  static constexpr const char* kChoices[] = {"auto",   "32",       "64",        "128",
                                             "256",    "capped64", "capped128", "capped256"};
  static constexpr int kThreads[] = {0, 32, 64, 128, 256, 64, 128, 256};
  const int choice = env_choice("online_learn_members (CUDA)", "TLR_CUDA_MEMBERS", kChoices);
  MembersChoice members;
  members.automatic = choice == 0;
  members.threads = kThreads[choice];
  members.capped = choice >= 5;
  return members;
}

CpuOnlineOrder cpu_online_order() {
  static constexpr const char* kChoices[] = {"cpu", "gpu", "grid"};  // CpuOnlineOrder's order
  return static_cast<CpuOnlineOrder>(env_choice("online_learn (CPU)", "TLR_CPU_ONLINE_ORDER", kChoices));
}

// The messages below hold integers: they are built with std::to_string and passed to TORCH_CHECK as one string,
// which c10 forwards without an ostream (c10::str of a lone std::string). On the H200 image, streaming an
// integer into c10::str's ostringstream from this library crashed inside libstdc++ (gpu_paths.h).
bool persistent_ran(const char* op, SequencePath path, const char* why_not, int64_t n, int64_t B, int64_t steps) {
  if (why_not == nullptr || path != SequencePath::Persistent) return why_not == nullptr;
  const std::string message = std::string(op) + ": TLR_CUDA_SEQUENCE=persistent, but the persistent kernel cannot " +
                              "run hidden_size = " + std::to_string(n) + ", batch = " + std::to_string(B) +
                              ", seq_len = " + std::to_string(steps) + ": " + why_not +
                              "; unset TLR_CUDA_SEQUENCE to fall back to the stepwise path";
  TORCH_CHECK(false, message);
  return false;
}

void check_block_indices(int64_t extent, int64_t B, int64_t n, int64_t I, int64_t O) {
  if (extent <= kBlockIndexLimit) return;
  const std::string message = "online_learn (CUDA): the one-block kernel indexes in 32 bits, at most " +
                              std::to_string(kBlockIndexLimit) + " elements, but batch = " + std::to_string(B) +
                              ", hidden_size = " + std::to_string(n) + ", input_size = " + std::to_string(I) +
                              ", output_size = " + std::to_string(O) + " reach " + std::to_string(extent) +
                              "; unset TLR_CUDA_ONLINE (or set it to 'grid') to run the grid kernel";
  TORCH_CHECK(false, message);
}

void check_stream_blocks(const char* op, const char* what, int64_t B, int64_t limit) {
  if (B <= limit) return;
  const std::string message = std::string(op) + ": the CUDA kernel of " + what + " runs one block per stream, at " +
                              "most " + std::to_string(limit) + " streams, but got batch = " + std::to_string(B);
  TORCH_CHECK(false, message);
}

}  // namespace torch_local_rnn
