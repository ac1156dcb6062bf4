// The GPU's primitives under the host-device kernel bodies that the C++ tests also run on the CPU (the persistent
// sequence kernels: the tiled kernel's block, common/sequence_tiled_block.h, its exchange,
// common/sequence_exchange.h, and the warp kernel's stream, common/sequence_warp_stream.h; the CPU's primitives
// are tests/cpp/simt_emulation.h's fibers). Each is one intrinsic, inlined: the body compiles
// as if it called the intrinsic itself.
#pragma once

#include <cuda_runtime.h>

namespace torch_local_rnn {
namespace kernels {

// Whether this compilation target has thread-block clusters (the planner checks the kernel's binary version on the
// host before it launches a cluster of several blocks).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define TLR_CLUSTERS 1
#else
#define TLR_CLUSTERS 0
#endif

struct DeviceThread {
  __device__ __forceinline__ int thread() const { return static_cast<int>(threadIdx.x); }
  __device__ __forceinline__ int threads() const { return static_cast<int>(blockDim.x); }
  __device__ __forceinline__ int block() const { return static_cast<int>(blockIdx.x); }
  __device__ __forceinline__ void sync_block() const { __syncthreads(); }
  // Lane (this lane ^ mask)'s v; every lane of the warp calls it.
  template <typename T>
  __device__ __forceinline__ T shfl_xor(T v, int mask) const {
    return __shfl_xor_sync(0xffffffffu, v, mask);
  }
  // Lane `lane`'s v; every lane of the warp calls it.
  template <typename T>
  __device__ __forceinline__ T shfl(T v, int lane) const {
    return __shfl_sync(0xffffffffu, v, lane);
  }
  // A load that bypasses L1 (the value was written by another block this launch).
  template <typename T>
  __device__ __forceinline__ T load_l2(const T* at) const {
    return __ldcg(at);
  }
  // `local` (this block's shared memory) in the block of cluster rank `rank` (distributed shared memory).
  template <typename T>
  __device__ __forceinline__ T* cluster_map(T* local, int rank) const {
#if TLR_CLUSTERS
    return static_cast<T*>(__cluster_map_shared_rank(local, static_cast<unsigned>(rank)));
#else
    __trap();  // the planner never sends a multi-block cluster to a target without them
    return local;
#endif
  }
  __device__ __forceinline__ void cluster_arrive() const {
#if TLR_CLUSTERS
    __cluster_barrier_arrive();
#else
    __trap();
#endif
  }
  __device__ __forceinline__ void cluster_wait() const {
#if TLR_CLUSTERS
    __cluster_barrier_wait();
#else
    __trap();
#endif
  }
  __device__ __forceinline__ void fence() const { __threadfence(); }
  // Polls `flag` until it holds at least `at_least` (another block sets it), backing off between reads.
  __device__ __forceinline__ void wait_flag(const unsigned* flag, unsigned at_least) const {
    const volatile unsigned* const word = flag;
    while (*word < at_least) __nanosleep(32);
  }
  __device__ __forceinline__ void set_flag(unsigned* flag, unsigned value) const {
    *reinterpret_cast<volatile unsigned*>(flag) = value;
  }
};

}  // namespace kernels
}  // namespace torch_local_rnn
