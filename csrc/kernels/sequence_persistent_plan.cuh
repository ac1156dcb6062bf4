// The host half of the persistent sequence kernel (kernels/sequence_persistent.cuh, docs/design.md §3.6): the
// block shape and the exchange for a call, and the launch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sequence_persistent.cuh"

namespace torch_local_rnn {
namespace kernels {

// The exchanges the planner may choose from (TLR_CUDA_PERSISTENT=cluster or flags narrows it to one).
struct ExchangeChoice {
  bool cluster = true, flags = true;
};

// Whether the cluster build can run clusters of several blocks here: a device of compute capability 9 or later, and
// the kernel compiled for one (a build for an older target has the kernel without the cluster instructions).
template <typename T, typename Cell>
bool multi_block_clusters_run(const DeviceLimits& device) {
  if (device.major < 9) return false;
  cudaFuncAttributes attributes{};
  if (cudaFuncGetAttributes(&attributes, persistent_sequence_kernel<T, Cell, true>) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attributes.binaryVersion >= 90 && attributes.ptxVersion >= 90;
}

// The kernel attributes a plan needs: dynamic shared memory beyond 48 KiB, clusters beyond the portable 8 blocks.
template <typename Kernel>
cudaError_t prepare_persistent_kernel(Kernel kernel, const PersistentPlan& plan) {
  if (plan.shared_bytes > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 static_cast<int>(plan.shared_bytes));
    if (err != cudaSuccess) return err;
  }
  if (plan.cluster && plan.row_blocks > kMaxPortableCluster) {
    return cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  }
  return cudaSuccess;
}

// A cluster plan's launch configuration: one cluster per stream group (a group of one block needs no attribute).
inline cudaLaunchConfig_t cluster_launch_config(const PersistentPlan& plan, cudaStream_t stream,
                                                cudaLaunchAttribute& attribute) {
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(static_cast<unsigned>(plan.row_blocks * plan.stream_blocks));
  config.blockDim = dim3(kSeqThreads);
  config.dynamicSmemBytes = plan.shared_bytes;
  config.stream = stream;
  attribute.id = cudaLaunchAttributeClusterDimension;
  attribute.val.clusterDim.x = static_cast<unsigned>(plan.row_blocks);
  attribute.val.clusterDim.y = 1;
  attribute.val.clusterDim.z = 1;
  config.attrs = &attribute;
  config.numAttrs = plan.row_blocks > 1 ? 1 : 0;
  return config;
}

// One block shape (warp_rows x kSeqWarps / warp_rows warps) under one exchange; fits = false where it cannot run.
// Flags: the whole grid resident at once. Clusters: at least one cluster resident; the stream groups run in
// `waves` rounds when the device holds fewer clusters than there are groups (they do not wait on each other).
template <typename T, typename Cell>
PersistentPlan shape_plan(int warp_rows, bool cluster, int64_t n, int64_t B, const DeviceLimits& device,
                          bool multi_block_clusters) {
  PersistentPlan plan = persistent_shape(warp_rows, cluster, n, B, sizeof(T));
  if (plan.shared_bytes > static_cast<size_t>(device.shared_optin)) return plan;
  if (cluster ? plan.row_blocks > 1 && (!multi_block_clusters || plan.row_blocks > kMaxCluster) : !device.cooperative) {
    return plan;
  }
  const auto kernel = cluster ? persistent_sequence_kernel<T, Cell, true> : persistent_sequence_kernel<T, Cell, false>;
  int per_sm = 0;
  if (prepare_persistent_kernel(kernel, plan) != cudaSuccess ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kSeqThreads, plan.shared_bytes) != cudaSuccess) {
    cudaGetLastError();
    return plan;
  }
  int64_t groups_at_once = static_cast<int64_t>(per_sm) * device.sms / plan.row_blocks;
  if (cluster && plan.row_blocks > 1) {
    cudaLaunchAttribute attribute{};
    const cudaLaunchConfig_t config = cluster_launch_config(plan, nullptr, attribute);
    int clusters = 0;
    if (cudaOccupancyMaxActiveClusters(&clusters, kernel, &config) != cudaSuccess) {
      cudaGetLastError();
      return plan;
    }
    groups_at_once = clusters;
  }
  if (groups_at_once < 1 || (!cluster && plan.stream_blocks > groups_at_once)) return plan;
  plan.waves = static_cast<int>((plan.stream_blocks + groups_at_once - 1) / groups_at_once);
  plan.fits = true;
  return plan;
}

// Chooses the block shape and the exchange among the four shapes (warp_rows, warp_streams) with kSeqWarps warps,
// each under the exchanges `choice` allows: first the clusters that run in one wave (a step's exchange on chip),
// then the flags, then clusters in several waves; within one, the least padded work (times the waves), then the
// fewest bytes read per step. Returns fits = false (with why) when none runs.
template <typename T, typename Cell>
PersistentPlan plan_persistent(int64_t n, int64_t B, int64_t steps, ExchangeChoice choice = {}) {
  PersistentPlan best;
  if (n > (1 << 20) || B > (1 << 24) || steps > (1 << 24)) {  // int indices inside; the flags are 32-bit
    best.why = "the sizes exceed the persistent kernel's index range";
    return best;
  }
  DeviceLimits device;
  if (const char* why = current_device_limits(device)) {
    best.why = why;
    return best;
  }
  const bool multi_block_clusters = choice.cluster && multi_block_clusters_run<T, Cell>(device);
  const auto rank = [](const PersistentPlan& plan) { return plan.cluster ? (plan.waves == 1 ? 0 : 2) : 1; };
  int64_t best_work = 0, best_bytes = 0;
  for (int warp_rows = kSeqWarps; warp_rows >= 1; warp_rows /= 2) {
    for (const bool cluster : {true, false}) {
      if (!(cluster ? choice.cluster : choice.flags)) continue;
      const PersistentPlan plan = shape_plan<T, Cell>(warp_rows, cluster, n, B, device, multi_block_clusters);
      if (!plan.fits) continue;
      const int64_t blocks = static_cast<int64_t>(plan.row_blocks) * plan.stream_blocks;
      const int64_t work = blocks * kWarpRows * plan.warp_rows * kWarpStreams * plan.warp_streams * plan.waves;
      const int64_t bytes = blocks * kWarpStreams * plan.warp_streams;
      if (!best.fits || rank(plan) < rank(best) ||
          (rank(plan) == rank(best) && (work < best_work || (work == best_work && bytes < best_bytes)))) {
        best = plan;
        best_work = work;
        best_bytes = bytes;
      }
    }
  }
  if (!best.fits) {
    best.why = choice.flags ? "the recurrent matrix's row tiles do not fit the GPU's shared memory at once"
                            : "no block shape's stream group fits one thread-block cluster (at most 16 blocks, "
                              "compute capability 9.0 or later) with its row tiles in shared memory";
  }
  return best;
}

// Launches the planned grid on `stream` (flags: p.flags zero, a cooperative launch; clusters: one cluster per
// stream group). Returns the launch's error.
template <typename T, typename Cell>
cudaError_t launch_persistent(PersistentParams<T, Cell> p, cudaStream_t stream) {
  if (p.plan.cluster) {
    const auto kernel = persistent_sequence_kernel<T, Cell, true>;
    const cudaError_t err = prepare_persistent_kernel(kernel, p.plan);
    if (err != cudaSuccess) return err;
    cudaLaunchAttribute attribute{};
    const cudaLaunchConfig_t config = cluster_launch_config(p.plan, stream, attribute);
    return cudaLaunchKernelEx(&config, kernel, p);
  }
  const auto kernel = persistent_sequence_kernel<T, Cell, false>;
  const cudaError_t err = prepare_persistent_kernel(kernel, p.plan);
  if (err != cudaSuccess) return err;
  void* args[] = {&p};
  const dim3 grid(static_cast<unsigned>(p.plan.row_blocks * p.plan.stream_blocks)), block(kSeqThreads);
  return cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel), grid, block, args, p.plan.shared_bytes,
                                     stream);
}

}  // namespace kernels
}  // namespace torch_local_rnn
