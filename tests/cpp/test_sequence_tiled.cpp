// The tiled persistent sequence kernel (kernels/sequence_persistent.cuh) where there is no GPU: its block
// (common/sequence_tiled_block.h's run_tiled_sequence_block) run by every thread of every block of the grid the
// planner's block shapes give, as fibers (simt_emulation.h), with the forward's and exact BPTT's cells, against
// the recursions written out as plain loops (sequence_recursions.h). Both exchanges (common/sequence_exchange.h):
// clusters, whose blocks write into each other's shared memory, and flags through global memory. Each grid runs
// under four orders of its threads (simt_emulation.h): the lowest or the highest numbered block running ahead of
// the others as far as its waits let it, a random order, and in turn; a tile read before its writer wrote it, or
// overwritten while a slower block still reads it, gives other numbers, and a wait that never ends is reported.
// The shapes cover every warp layout, several row blocks (a cluster of up to 5) and stream groups, ragged units
// and streams, products longer than a warp's 32 columns, and a single step.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/sequence_tiled_block.h"
#include "sequence_recursions.h"
#include "simt_emulation.h"

namespace {

using torch_local_rnn::kFlagStride;
using torch_local_rnn::kSeqThreads;
using torch_local_rnn::Nonlinearity;
using torch_local_rnn::PersistentParams;
using torch_local_rnn::PersistentPlan;
using namespace sequence_recursions;

struct Shape {
  Size size;
  int warp_rows;  // 8, 4, 2, 1: R = 4 warp_rows rows and S = 64 / warp_rows streams a block
};

// blocks: row blocks x stream groups
const Shape kShapes[] = {
    {{3, 1, 5}, 8},    // 1 x 1
    {{5, 11, 40}, 8},  // 2 x 2, 8 columns past the first 32
    {{4, 3, 37}, 2},   // 5 x 1
    {{6, 70, 9}, 1},   // 3 x 2, the second group ragged
    {{2, 20, 64}, 4},  // 4 x 2
    {{1, 2, 33}, 8},   // 2 x 1, one step
};

const simt::Schedule kSchedules[] = {simt::Schedule::LowestFirst, simt::Schedule::HighestFirst,
                                     simt::Schedule::Random, simt::Schedule::RoundRobin};

// Runs the tiled kernel's grid for z under the given block shape and exchange, its threads in `schedule`'s order.
template <typename Cell>
void run_tiled(const Shape& shape, bool cluster, simt::Schedule schedule, unsigned seed, const Cell& cell,
               const double* w, bool transpose, double* last) {
  const Size& z = shape.size;
  PersistentPlan plan = torch_local_rnn::persistent_shape(shape.warp_rows, cluster, z.n, z.B, sizeof(double));
  plan.fits = true;
  std::vector<unsigned> flags(cluster ? 0 : size_t(plan.row_blocks) * plan.stream_blocks * kFlagStride, 0u);
  const PersistentParams<double, Cell> p{w, transpose, z.n, z.B, z.T, cluster ? nullptr : flags.data(),
                                         last, cell, plan};
  simt::GridShape grid_shape;
  grid_shape.blocks = plan.row_blocks * plan.stream_blocks;
  grid_shape.threads = kSeqThreads;
  grid_shape.cluster_blocks = cluster ? plan.row_blocks : 1;  // the launch's cluster dimension
  grid_shape.shared_bytes = plan.shared_bytes;
  simt::Grid grid(grid_shape, schedule, seed);
  const std::string error = grid.run([&](simt::Thread& thread, unsigned char* shared) {
    if (cluster) {
      torch_local_rnn::run_tiled_sequence_block<double, Cell, true>(p, shared, thread);
    } else {
      torch_local_rnn::run_tiled_sequence_block<double, Cell, false>(p, shared, thread);
    }
  });
  EXPECT_EQ(error, "") << describe(z) << " warp_rows=" << shape.warp_rows << " cluster=" << cluster
                       << " schedule=" << int(schedule);
}

std::string label(const Shape& shape, bool cluster, simt::Schedule schedule) {
  return std::string(cluster ? "cluster" : "flags") + " warp_rows=" + std::to_string(shape.warp_rows) +
         " schedule=" + std::to_string(int(schedule));
}

TEST(SequenceTiledEmulation, ForwardEqualsTheRecursion) {
  int index = 0;
  for (const Shape& shape : kShapes) {
    const Nonlinearity f = index % 2 == 0 ? Nonlinearity::Tanh : Nonlinearity::Relu;
    const double alpha = index % 3 == 0 ? 1.0 : 0.3;
    for (const bool cluster : {true, false}) {
      for (const simt::Schedule schedule : kSchedules) {
        expect_forward(shape.size, f, alpha, 100 * index, label(shape, cluster, schedule),
                       [&](const ForwardCell& cell, const double* w) {
                         run_tiled(shape, cluster, schedule, 1 + index, cell, w, false, nullptr);
                       });
      }
    }
    ++index;
  }
}

TEST(SequenceTiledEmulation, BpttAdjointEqualsTheRecursion) {
  int index = 0;
  for (const Shape& shape : kShapes) {
    const double alpha = index % 2 == 0 ? 0.3 : 1.0;
    for (const bool cluster : {true, false}) {
      for (const simt::Schedule schedule : kSchedules) {
        expect_adjoint(shape.size, alpha, 7 + 100 * index, label(shape, cluster, schedule),
                       [&](const AdjointCell& cell, const double* w, double* last) {
                         run_tiled(shape, cluster, schedule, 1 + index, cell, w, true, last);
                       });
      }
    }
    ++index;
  }
}

// The emulation itself: a body whose threads wait for what never comes is reported, not hung.
TEST(SequenceTiledEmulation, ReportsADeadlock) {
  simt::GridShape shape;
  shape.blocks = 2;
  shape.threads = 64;
  simt::Grid grid(shape, simt::Schedule::LowestFirst);
  const std::string error = grid.run([](simt::Thread& thread, unsigned char*) {
    if (thread.thread() != 5) thread.sync_block();  // thread 5 of each block never arrives
  });
  EXPECT_NE(error.find("deadlock"), std::string::npos) << error;
  EXPECT_NE(error.find("a block barrier"), std::string::npos) << error;
}

}  // namespace
