// noise_from_counter on the GPU: one thread per draw of common/philox.h, the function the CPU fill runs.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../common/noise.h"
#include "../kernels/common.cuh"

namespace torch_local_rnn {
namespace {

template <typename T>
__global__ void noise_fill_kernel(T* out, int64_t count, philox::NoiseKind kind, uint64_t seed, uint64_t offset) {
  TLR_GRID_LOOP(i, count) { philox::fill_range(out + i, kind, seed, offset, i, 1); }
}

void noise_from_counter_cuda(at::Tensor& out, c10::string_view kind, int64_t seed, int64_t offset) {
  const char* op = "noise_from_counter";
  const philox::NoiseKind k = parse_noise_kind(kind, op);
  check_noise_fill(out, seed, offset, op);
  if (out.numel() == 0) return;
  const c10::cuda::CUDAGuard guard(out.device());
  AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "noise_from_counter", [&] {
    noise_fill_kernel<scalar_t><<<kernels::grid_size(out.numel()), kernels::kThreads, 0,
                                  c10::cuda::getCurrentCUDAStream()>>>(
        out.data_ptr<scalar_t>(), out.numel(), k, static_cast<uint64_t>(seed), static_cast<uint64_t>(offset));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CUDA, m) { m.impl("noise_from_counter", &noise_from_counter_cuda); }

}  // namespace torch_local_rnn
