// Shared pieces of the framework-free CUDA kernels (docs/design.md §0.5, §4.2 habit 5): no ATen
// here, only raw pointers, sizes and a cudaStream_t, so the kernels compile (and could be
// driven) without torch. Launch errors are checked by the caller right after each launch
// (the ATen glue uses C10_CUDA_KERNEL_LAUNCH_CHECK()).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace torch_local_rnn {
namespace kernels {

// Threads per block of the elementwise kernels: a multiple of the warp size with good
// occupancy on every target; the work per element is a few flops, so nothing to tune.
constexpr int kThreads = 256;

// Blocks of a grid-stride loop: one per kThreads elements, capped so huge tensors reuse
// resident blocks instead of overflowing the grid (132 SMs x 16 blocks fills an H100).
constexpr int64_t kMaxBlocks = 4096;

// The most blocks gridDim.x may hold (2^31 - 1): the bound of the kernels that run one block per stream.
constexpr int64_t kMaxGridBlocks = 2147483647;

inline unsigned int grid_size(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

// What the launch planners need of the current device (the persistent sequence kernel, the online grid and
// member kernels): its SM count, its opt-in shared memory per block, whether it runs cooperative launches, its
// compute capability's major version (thread-block clusters from 9 on).
struct DeviceLimits {
  int sms = 0, shared_optin = 0, major = 0;
  bool cooperative = false;
};

// The current device's limits; null when read, else why not (the CUDA error is cleared).
inline const char* current_device_limits(DeviceLimits& limits) {
  int device = 0, cooperative = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&limits.sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&limits.shared_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&limits.major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    cudaGetLastError();
    return "the device's attributes could not be read";
  }
  limits.cooperative = cooperative != 0;
  return nullptr;
}

// First index of this thread and the stride of a grid-stride loop over the whole grid,
// 64-bit so (T * B * n)-sized offsets cannot overflow.
__device__ __forceinline__ int64_t grid_first() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

}  // namespace kernels
}  // namespace torch_local_rnn

// for (i in [0, count)) spread over every thread of the grid.
#define TLR_GRID_LOOP(i, count)                                                    \
  for (int64_t i = ::torch_local_rnn::kernels::grid_first(); i < (count);          \
       i += ::torch_local_rnn::kernels::grid_stride())

// for (i in [0, count)) spread over the threads of one block (the persistent online kernel).
#define TLR_BLOCK_LOOP(i, count) \
  for (int64_t i = threadIdx.x; i < (count); i += static_cast<int64_t>(blockDim.x))
