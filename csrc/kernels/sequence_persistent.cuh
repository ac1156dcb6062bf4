// The persistent sequence kernel (docs/design.md §3.6): one launch runs a recurrence of the form
//   acc_t[b, i] = sum_j M[i, j] v_{t-1}[b, j],   then a pointwise Cell::finish per (b, i) that writes v_t,
// for all T steps, the way cuDNN's persistent RNN and haste keep the recurrent matrix on chip. The forward
// (M = W_hh, v = a: kernels/leaky_rnn_persistent.cuh) and exact BPTT's adjoint (M = W_hh^T, v = C:
// rules/bptt/bptt_persistent.cuh) are its two cells. The stepwise path (a cuBLAS GEMM and a pointwise launch
// per step, ~25 us a step on an H200) is latency, not work: at B = 64, n = 512 a step is 17 Mflop, a few us
// of the chip. Here a step costs one on-chip product and one wait for the step before.
//
// Layout: block (rb, bb) owns rows [rb R, rb R + R) of M, held in shared memory for the whole sequence, and
// streams [bb S, bb S + S); each step it reads v_{t-1} of its S streams (S x n, from L2) into shared memory and
// forms its R x S outputs. A warp owns a 4 x 8 tile (kWarpRows rows x kWarpStreams streams): lane l sums the
// columns j = l, l + 32, ... for all 32 outputs (conflict-free shared reads, 12 loads per 32 multiply-adds), then
// a butterfly reduce-scatter (31 shuffles) leaves output l in lane l, which owns it on every step, so the cell's
// per-(b, i) state (a_{t-1} in the forward, delta in BPTT) stays in a register.
//
// Synchronisation: only the blocks of one stream group depend on each other, so instead of a grid-wide
// barrier each block has a flag (its own 128-byte line, so pollers of different producers do not queue on one
// address, and no atomics): after writing step t's outputs a block fences and sets its flag to t + 1; before
// step t + 1 a block's first threads each wait (with a short back-off) for one producer of its group to reach
// t + 1. Every step writes its own slot of the (T, B, n) output, so nothing is overwritten while another block
// may read it (no write-after-read hazard). Readers use L2-coherent loads (__ldcg): another SM wrote the data.
// All blocks must be resident at once, so the kernel is launched cooperatively (the launch fails rather than
// deadlocks) and the planner only accepts grids that fit; otherwise the caller takes the stepwise path.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common.cuh"

namespace torch_local_rnn {
namespace kernels {

constexpr int kSeqWarps = 8;                // warps per block
constexpr int kSeqThreads = 32 * kSeqWarps;
constexpr int kWarpRows = 4;                // a warp's tile: kWarpRows x kWarpStreams = 32 outputs, one per lane
constexpr int kWarpStreams = 8;

// The grid the host chose (plan_persistent): warps per block along rows x along streams = kSeqWarps.
struct PersistentPlan {
  bool fits = false;
  int warp_rows = 0, warp_streams = 0;  // R = kWarpRows warp_rows rows, S = kWarpStreams warp_streams streams
  int row_blocks = 0, stream_blocks = 0;
  size_t shared_bytes = 0;
  const char* why = "";  // when it does not fit
};

template <typename T, typename Cell>
struct PersistentParams {
  const T* matrix;     // M = W_hh (n, n) row-major; transposed: M[i, j] = matrix[j n + i]
  bool transpose;
  int n, B, steps;
  unsigned* flags;     // (row_blocks * stream_blocks * kFlagStride), zero on entry: block g's at g * kFlagStride
  T* last;             // (B, n): each output's carried value after the last step, or null
  Cell cell;
  PersistentPlan plan;
};

// Unsigned values apart from one flag to the next: 128 bytes, one L2 line each.
constexpr int kFlagStride = 32;

// Waits until the row_blocks producers of this block's stream group (flags[0], flags[kFlagStride], ...) have
// each reached `step`: one thread per producer polls; each fences after seeing it (acquire), then the barrier.
__device__ __forceinline__ void wait_for_producers(const unsigned* flags, int row_blocks, unsigned step) {
  for (int r = threadIdx.x; r < row_blocks; r += blockDim.x) {
    const volatile unsigned* const flag = flags + r * kFlagStride;
    while (*flag < step) __nanosleep(32);
    __threadfence();
  }
  __syncthreads();
}

// After every thread's stores of step s: make them visible to the grid (the barrier orders the block's stores
// before thread 0's fence), then publish s + 1 in this block's own flag.
__device__ __forceinline__ void signal_done(unsigned* flag, unsigned step_done) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    *reinterpret_cast<volatile unsigned*>(flag) = step_done;
  }
}

// acc[e] (e < 32) summed over the warp's lanes, lane l keeping the sum of entry l: each round a lane keeps the
// half of its entries named by its bit and adds its partner's copy of them. Fixed order: deterministic. The
// rounds are a template recursion so every index is a constant and acc stays in registers.
template <int Half, typename T>
__device__ __forceinline__ void reduce_round(T (&acc)[32], int lane) {
  const bool upper = (lane & Half) != 0;
#pragma unroll
  for (int e = 0; e < Half; ++e) {
    const T send = upper ? acc[e] : acc[e + Half];
    const T keep = upper ? acc[e + Half] : acc[e];
    acc[e] = keep + __shfl_xor_sync(0xffffffffu, send, Half);
  }
  if constexpr (Half > 1) reduce_round<Half / 2>(acc, lane);
}

template <typename T>
__device__ __forceinline__ T reduce_scatter32(T (&acc)[32], int lane) {
  reduce_round<16>(acc, lane);
  return acc[0];
}

// The warp's 32 dot products over n: rows w[r n + j], streams v[s n + j] (shared memory), then reduce-scatter.
template <typename T>
__device__ __forceinline__ T warp_tile_products(const T* w, const T* v, int n, int lane) {
  T acc[32];
#pragma unroll
  for (int e = 0; e < 32; ++e) acc[e] = T(0);
  for (int j = lane; j < n; j += 32) {
    T wr[kWarpRows], vs[kWarpStreams];
#pragma unroll
    for (int r = 0; r < kWarpRows; ++r) wr[r] = w[r * n + j];
#pragma unroll
    for (int s = 0; s < kWarpStreams; ++s) vs[s] = v[s * n + j];
#pragma unroll
    for (int r = 0; r < kWarpRows; ++r) {
#pragma unroll
      for (int s = 0; s < kWarpStreams; ++s) acc[r * kWarpStreams + s] += wr[r] * vs[s];
    }
  }
  return reduce_scatter32(acc, lane);
}

// Cell contract (the two cells are in leaky_rnn_persistent.cuh and rules/bptt/bptt_persistent.cuh):
//   const T* source(s)        v_{s-1} (B, n) for step s, or null when step s has no product (acc = 0);
//   T initial(k)              the carried value of output k = b n + i before step 0;
//   Inputs load(s, k)         the step's own inputs of output k (read before waiting: they do not depend on it);
//   T finish(s, k, acc, inputs, carried)   writes output k of step s, updates carried, and returns the value
//                             step s + 1 reads as v_s[b, i] (the state a_t; BPTT's credit C_t).
// A source other than the kernel's own output (step 0's h0) needs no wait: source_is_input(s).
//
// A grid of one block (the papers' n = 32 at a small batch) holds every row and stream itself, so the values
// step s + 1 reads are the ones it just computed: they go straight into the stream tile, and a step costs two
// block barriers instead of a round trip through L2 and the flags.
// (kSeqThreads, 2): up to 128 registers a thread, which the 32 accumulators need (without a minimum ptxas chose 64
// and spilled them).
template <typename T, typename Cell>
__global__ void __launch_bounds__(kSeqThreads, 2) persistent_sequence_kernel(PersistentParams<T, Cell> p) {
  extern __shared__ __align__(16) unsigned char persistent_shared[];
  const int n = p.n, B = p.B;
  const int R = kWarpRows * p.plan.warp_rows, S = kWarpStreams * p.plan.warp_streams;
  const int rb = blockIdx.x % p.plan.row_blocks, sb = blockIdx.x / p.plan.row_blocks;
  const int row0 = rb * R, b0 = sb * S;
  const bool alone = gridDim.x == 1;
  T* const w_tile = reinterpret_cast<T*>(persistent_shared);  // R x n; rows past n are zero
  T* const v_tile = w_tile + static_cast<int64_t>(R) * n;      // S x n; streams past B are zero

  for (int e = threadIdx.x; e < R * n; e += kSeqThreads) {
    const int i = row0 + e / n, j = e % n;
    w_tile[e] = i < n ? (p.transpose ? p.matrix[static_cast<int64_t>(j) * n + i] : p.matrix[static_cast<int64_t>(i) * n + j])
                      : T(0);
  }
  for (int e = threadIdx.x; e < S * n; e += kSeqThreads) v_tile[e] = T(0);  // padding stays zero
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int warp_row = warp % p.plan.warp_rows, warp_stream = warp / p.plan.warp_rows;
  const int i = row0 + warp_row * kWarpRows + lane / kWarpStreams;   // this lane's output after the reduce
  const int b = b0 + warp_stream * kWarpStreams + lane % kWarpStreams;
  const bool owner = i < n && b < B;
  const int64_t k = static_cast<int64_t>(b) * n + i;
  T carried = owner ? p.cell.initial(k) : T(0);
  const T* const w_warp = w_tile + warp_row * kWarpRows * n;
  const T* const v_warp = v_tile + warp_stream * kWarpStreams * n;
  const unsigned* const group_flags = p.flags + static_cast<int64_t>(sb) * p.plan.row_blocks * kFlagStride;
  unsigned* const own_flag = p.flags + static_cast<int64_t>(blockIdx.x) * kFlagStride;  // blockIdx = sb rows + rb
  __syncthreads();

  for (int s = 0; s < p.steps; ++s) {
    typename Cell::Inputs inputs{};
    if (owner) inputs = p.cell.load(s, k);
    const T* const src = p.cell.source(s);
    T acc = T(0);
    if (src != nullptr) {
      if (!alone || p.cell.source_is_input(s)) {  // alone, a step's own output is in v_tile already
        if (!p.cell.source_is_input(s)) wait_for_producers(group_flags, p.plan.row_blocks, static_cast<unsigned>(s));
        for (int bl = 0; bl < S; ++bl) {  // stream by stream: no index division in the copy
          const T* const row = src + static_cast<int64_t>(b0 + bl) * n;
          const bool real = b0 + bl < B;
          for (int j = threadIdx.x; j < n; j += kSeqThreads) v_tile[bl * n + j] = real ? __ldcg(row + j) : T(0);
        }
      }
      __syncthreads();
      acc = warp_tile_products(w_warp, v_warp, n, lane);
    }
    if (alone) {
      __syncthreads();  // every warp is done reading v_tile before the owners overwrite it
      if (owner) v_tile[(b - b0) * n + i] = p.cell.finish(s, k, acc, inputs, carried);
    } else {
      if (owner) p.cell.finish(s, k, acc, inputs, carried);
      signal_done(own_flag, static_cast<unsigned>(s + 1));  // its barrier: every warp is done with v_tile too
    }
  }
  if (owner && p.last != nullptr) p.last[k] = carried;
}

// Chooses the block shape: among the four (warp_rows, warp_streams) with kSeqWarps warps, those whose shared
// tiles fit the block's opt-in limit and whose grid is resident at once; the least padded work first, then the
// fewest bytes read per step. Returns fits = false (with why) when none does.
template <typename T, typename Cell>
PersistentPlan plan_persistent(int64_t n, int64_t B, int64_t steps) {
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
  const int sms = device.sms, optin = device.shared_optin;
  if (!device.cooperative) {
    best.why = "the device has no cooperative launch";
    return best;
  }
  int64_t best_work = 0, best_bytes = 0;
  for (int warp_rows = kSeqWarps; warp_rows >= 1; warp_rows /= 2) {
    PersistentPlan plan;
    plan.warp_rows = warp_rows;
    plan.warp_streams = kSeqWarps / warp_rows;
    const int R = kWarpRows * plan.warp_rows, S = kWarpStreams * plan.warp_streams;
    plan.row_blocks = static_cast<int>((n + R - 1) / R);
    plan.stream_blocks = static_cast<int>((B + S - 1) / S);
    plan.shared_bytes = static_cast<size_t>(R + S) * n * sizeof(T);
    if (plan.shared_bytes > static_cast<size_t>(optin)) continue;
    const auto kernel = persistent_sequence_kernel<T, Cell>;
    if (plan.shared_bytes > 48 * 1024 &&
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(plan.shared_bytes)) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    int per_sm = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kSeqThreads, plan.shared_bytes) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    const int64_t blocks = static_cast<int64_t>(plan.row_blocks) * plan.stream_blocks;
    if (blocks > static_cast<int64_t>(per_sm) * sms) continue;
    const int64_t work = blocks * R * S, bytes = blocks * S;
    if (!best.fits || work < best_work || (work == best_work && bytes < best_bytes)) {
      best = plan;
      best.fits = true;
      best_work = work;
      best_bytes = bytes;
    }
  }
  if (!best.fits) best.why = "the recurrent matrix's row tiles do not fit the GPU's shared memory at once";
  return best;
}

// Launches the planned grid on `stream`; p.flags must be zero. Returns the launch's error.
template <typename T, typename Cell>
cudaError_t launch_persistent(PersistentParams<T, Cell> p, cudaStream_t stream) {
  const auto kernel = persistent_sequence_kernel<T, Cell>;
  if (p.plan.shared_bytes > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 static_cast<int>(p.plan.shared_bytes));
    if (err != cudaSuccess) return err;
  }
  void* args[] = {&p};
  const dim3 grid(static_cast<unsigned>(p.plan.row_blocks * p.plan.stream_blocks)), block(kSeqThreads);
  return cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel), grid, block, args, p.plan.shared_bytes,
                                     stream);
}

}  // namespace kernels
}  // namespace torch_local_rnn
