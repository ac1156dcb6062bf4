// The GPU's path switches (read from the environment per call) and the GPU glue's errors that name sizes, in one
// host-compiled file (gpu_paths.cpp). On the H200 image (torch 2.11, its own toolchain) an error message that
// streamed an integer through c10::str's ostringstream crashed inside libstdc++ (num_put reached through the
// wrong facet: a header/runtime mismatch of that image, docs/design.md §3.6); these messages are built with
// std::to_string instead, which uses no locale or stream.
#pragma once

#include <cstdint>

namespace torch_local_rnn {

// TLR_CUDA_SEQUENCE: auto (unset; the persistent sequence kernel where it fits, else stepwise), persistent (an
// error where it does not fit) or stepwise (a GEMM and a pointwise launch per step). Any other value: an error
// naming the variable, the value and the accepted ones.
enum class SequencePath { Auto, Persistent, Stepwise };
SequencePath sequence_path(const char* op);

// TLR_CUDA_PERSISTENT, which persistent kernel runs where TLR_CUDA_SEQUENCE allows one (docs/design.md §3.6):
// auto (unset; a warp per stream where hidden_size <= 32, else the tiled kernel, its stream groups exchanging a
// step on chip in a thread-block cluster where a group fits one, else through L2 and flags), warp, cluster or
// flags (only that one: where it cannot run, the persistent kernel does not fit). Other values: an error as for
// TLR_CUDA_SEQUENCE.
enum class PersistentKernel { Auto, Warp, Cluster, Flags };
PersistentKernel persistent_kernel(const char* op);

// TLR_CUDA_ONLINE: auto (unset; the grid kernel for wide networks, else one block), block, or grid (an error
// where the device cannot run it). Other values: an error as for TLR_CUDA_SEQUENCE.
enum class OnlinePath { Auto, Block, Grid };
OnlinePath online_path();

// TLR_CUDA_MEMBERS: how online_learn_members launches its members' blocks (kernels/online_members.cuh,
// docs/design.md §3.7): auto (unset; the planner: the most threads a member at which every member is resident,
// the kernel's unbounded build first), a block of 32, 64, 128 or 256 threads a member under the unbounded build,
// or capped64, capped128, capped256 under the build capped at 128 registers a thread; a fixed choice runs
// whatever the occupancy (members beyond what is resident wait for a free SM). A member's result is the same bits
// under every choice; only its speed changes. Other values: an error as for TLR_CUDA_SEQUENCE.
struct MembersChoice {
  bool automatic = true;
  int threads = 0;
  bool capped = false;
};
MembersChoice members_choice();

// TLR_CPU_ONLINE_ORDER, the order in which the CPU op's float64 online step visits its elements: cpu (unset; the CPU
// policy, cpu/online_step_cpu.h), gpu (the GPU's one-block and member policy over a team of 64 threads run for each
// rank in turn, cpu/team_exec_emulation.h) or grid (the GPU's grid policy over a grid of two blocks, its forward by
// tiles): the GPU's per-element order and loop partitioning, each in the build the GPU would run for the call (with
// or without the options' paths), for testing the GPU's paths of every rule where there is no GPU (docs/design.md
// §1.4). float32 under gpu or grid is an error. Other values: an error as for TLR_CUDA_SEQUENCE.
enum class CpuOnlineOrder { Cpu, Gpu, Grid };
CpuOnlineOrder cpu_online_order();
// Whether the persistent kernel ran (why_not is null); an error naming the sizes where TLR_CUDA_SEQUENCE=persistent
// asked for it and it could not run (why_not says why).
bool persistent_ran(const char* op, SequencePath path, const char* why_not, int64_t n, int64_t B, int64_t steps);

// The online one-block and member kernels index in 32 bits (kernels::BlockExec32): a call runs on them only when
// its largest index (kernels::online_index_extent) stays below this, which leaves room for a team loop's last
// stride past its end (a block's threads).
constexpr int64_t kBlockIndexLimit = (int64_t(1) << 31) - (int64_t(1) << 20);
// An error naming the sizes and the extent where a call routed to the one-block kernel exceeds kBlockIndexLimit.
void check_block_indices(int64_t extent, int64_t B, int64_t n, int64_t I, int64_t O);

// A kernel that runs one block per stream takes at most `limit` streams: an error naming `what` and batch otherwise.
void check_stream_blocks(const char* op, const char* what, int64_t B, int64_t limit);

}  // namespace torch_local_rnn
