// The warp-per-stream sequence kernel (kernels/sequence_warp.cuh) where there is no GPU: the function each of its
// lanes runs (common/sequence_warp_stream.h's run_warp_stream) run by every lane of the kernel's blocks as fibers
// (simt_emulation.h: a shuffle waits for the warp's 32 lanes), with the forward's and exact BPTT's cells, against
// the recursions written out as plain loops (sequence_recursions.h). The sizes cover one unit, ragged and full
// warps, a block's 4 warps with some past B, and sequences shorter than, equal to and past the 8-step prefetch
// ring and not a multiple of it.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/sequence_warp_stream.h"
#include "sequence_recursions.h"
#include "simt_emulation.h"

namespace {

using torch_local_rnn::Nonlinearity;
using torch_local_rnn::WarpSequenceParams;
using namespace sequence_recursions;

constexpr int kWarps = 4;  // kernels/sequence_warp.cuh's kWarpSequenceWarps: streams a block

// The kernel's grid: block g's warp w runs stream 4 g + w, if there is one.
template <typename Cell>
void run_warp_kernel(const WarpSequenceParams<double, Cell>& p, simt::Schedule schedule) {
  simt::GridShape shape;
  shape.blocks = (p.B + kWarps - 1) / kWarps;
  shape.threads = 32 * kWarps;
  simt::Grid grid(shape, schedule, 1);
  const std::string error = grid.run([&](simt::Thread& thread, unsigned char*) {
    const int64_t b = int64_t(thread.block()) * kWarps + thread.thread() / 32;
    if (b < p.B) torch_local_rnn::run_warp_stream(p, b, thread.thread() % 32, thread);
  });
  EXPECT_EQ(error, "");
}

const Size kSizes[] = {{1, 1, 1}, {7, 2, 5}, {8, 1, 32}, {9, 3, 17}, {21, 2, 32}, {16, 1, 4}, {10, 6, 29}};

TEST(SequenceWarpEmulation, ForwardEqualsTheRecursion) {
  for (const Size& z : kSizes) {
    for (const Nonlinearity f : {Nonlinearity::Tanh, Nonlinearity::Relu, Nonlinearity::Sigmoid}) {
      for (const double alpha : {1.0, 0.3}) {
        const auto schedule = f == Nonlinearity::Relu ? simt::Schedule::Random : simt::Schedule::LowestFirst;
        expect_forward(z, f, alpha, 1000 * z.T + 10 * z.n + z.B, "warp", [&](const ForwardCell& cell, const double* w) {
          run_warp_kernel(WarpSequenceParams<double, ForwardCell>{w, false, z.n, z.B, z.T, nullptr, cell}, schedule);
        });
      }
    }
  }
}

TEST(SequenceWarpEmulation, BpttAdjointEqualsTheRecursion) {
  for (const Size& z : kSizes) {
    for (const double alpha : {1.0, 0.3}) {
      const auto schedule = alpha == 1.0 ? simt::Schedule::HighestFirst : simt::Schedule::RoundRobin;
      expect_adjoint(z, alpha, 7 + 1000 * z.T + 10 * z.n + z.B, "warp",
                     [&](const AdjointCell& cell, const double* w, double* last) {
                       run_warp_kernel(WarpSequenceParams<double, AdjointCell>{w, true, z.n, z.B, z.T, last, cell},
                                       schedule);
                     });
    }
  }
}

}  // namespace
