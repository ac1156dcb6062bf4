// The warp-per-stream sequence kernel (kernels/sequence_warp.cuh) where there is no GPU: the function each of its
// lanes runs (common/sequence_warp_stream.h's run_warp_stream) run for 32 emulated lanes in step, with the
// forward's and exact BPTT's cells, against the recursions written out as plain loops (sequence_recursions.h).
// The sizes cover one unit, ragged and full warps, and sequences shorter than, equal to and past the 8-step
// prefetch ring and not a multiple of it.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "common/sequence_warp_stream.h"
#include "sequence_recursions.h"

namespace {

using torch_local_rnn::Nonlinearity;
using torch_local_rnn::WarpLane;
using torch_local_rnn::WarpSequenceParams;
using namespace sequence_recursions;

// The GPU's warp on the CPU: every statement for lanes 0 .. 31 in turn, lane j's v read from its state (the
// shuffle). products() reads every lane's v before it sets any lane's acc, as the lanes in step do.
template <typename T, typename Cell>
struct EmulatedWarp {
  std::array<WarpLane<T, Cell>, 32> lanes{};
  template <typename F>
  void each(F&& f) {
    for (int lane = 0; lane < 32; ++lane) f(lane, lanes[lane]);
  }
  void products(bool any) {
    std::array<T, 32> acc{};
    for (int lane = 0; lane < 32; ++lane) {
      acc[lane] = any ? torch_local_rnn::warp_row_product(lanes[lane].row, [&](int j) { return lanes[j].v; }) : T(0);
    }
    for (int lane = 0; lane < 32; ++lane) lanes[lane].acc = acc[lane];
  }
};

template <typename Cell>
void run_emulated(const WarpSequenceParams<double, Cell>& p) {
  for (int64_t b = 0; b < p.B; ++b) {
    EmulatedWarp<double, Cell> warp;
    torch_local_rnn::run_warp_stream(p, b, warp);
  }
}

const Size kSizes[] = {{1, 1, 1}, {7, 2, 5}, {8, 1, 32}, {9, 3, 17}, {21, 2, 32}, {16, 1, 4}};

TEST(SequenceWarpEmulation, ForwardEqualsTheRecursion) {
  for (const Size& z : kSizes) {
    for (const Nonlinearity f : {Nonlinearity::Tanh, Nonlinearity::Relu, Nonlinearity::Sigmoid}) {
      for (const double alpha : {1.0, 0.3}) {
        expect_forward(z, f, alpha, 1000 * z.T + 10 * z.n + z.B, "warp", [&](const ForwardCell& cell, const double* w) {
          run_emulated(WarpSequenceParams<double, ForwardCell>{w, false, z.n, z.B, z.T, nullptr, cell});
        });
      }
    }
  }
}

TEST(SequenceWarpEmulation, BpttAdjointEqualsTheRecursion) {
  for (const Size& z : kSizes) {
    for (const double alpha : {1.0, 0.3}) {
      expect_adjoint(z, alpha, 7 + 1000 * z.T + 10 * z.n + z.B, "warp",
                     [&](const AdjointCell& cell, const double* w, double* last) {
                       run_emulated(WarpSequenceParams<double, AdjointCell>{w, true, z.n, z.B, z.T, last, cell});
                     });
    }
  }
}

}  // namespace
