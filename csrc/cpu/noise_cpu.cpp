// noise_from_counter on the CPU: common/philox.h's draws over the threads (one range per chunk).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../common/noise.h"

namespace torch_local_rnn {
namespace {

void noise_from_counter_cpu(at::Tensor& out, c10::string_view kind, int64_t seed, int64_t offset) {
  const char* op = "noise_from_counter";
  const philox::NoiseKind k = parse_noise_kind(kind, op);
  check_noise_fill(out, seed, offset, op);
  AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "noise_from_counter", [&] {
    scalar_t* data = out.data_ptr<scalar_t>();
    at::parallel_for(0, out.numel(), 4096, [&](int64_t begin, int64_t end) {
      philox::fill_range(data + begin, k, static_cast<uint64_t>(seed), static_cast<uint64_t>(offset), begin,
                         end - begin);
    });
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CPU, m) { m.impl("noise_from_counter", &noise_from_counter_cpu); }

}  // namespace torch_local_rnn
