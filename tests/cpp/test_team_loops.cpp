// The GPU's team loops (common/team_loops.h, what kernels/online_step.cuh's TeamExec runs on each thread),
// tested on the CPU: each covers its elements once for every team size and shape, the owned loops keep k in
// order per element, the staged owned loop issues several reads before its first write and still applies
// every element's updates in k order, the rotated rows' dot (dot_rotated) is dot() of the permuted row, the grid's
// tiled forward gives the per-element forward's bits; and whole online steps under the emulated GPU policies
// (cpu/team_exec_emulation.h) equal the CPU policy's (float64, 1e-10) and do not depend on the team's size or on the
// tiled forward (bits).
#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "common/dot.h"
#include "common/online_step.h"
#include "cpu/online_step_cpu.h"
#include "rules/rflo/rflo_step.h"
#include "rules/rtrl/rtrl_step.h"
#include "cpu/team_exec_emulation.h"

namespace {

using torch_local_rnn::team_loop2;
using torch_local_rnn::team_loop_owned;
using torch_local_rnn::team_loop_owned_acc;
using torch_local_rnn::team_matmul;

struct Shape {
  int64_t rows, cols, size;
};
// Teams wider and narrower than the block, sizes that do not divide it, one column, one row.
const Shape kShapes[] = {{32, 32, 64}, {32, 35, 64}, {7, 3, 256}, {5, 1, 64}, {1, 97, 32}, {33, 40, 96}, {3, 300, 64}};

TEST(TeamLoops, Loop2VisitsEachPairOnceInFlatOrderPerRank) {
  for (const Shape& s : kShapes) {
    std::vector<int> visits(s.rows * s.cols, 0);
    for (int64_t rank = 0; rank < s.size; ++rank) {
      int64_t last = -1;
      team_loop2(rank, s.size, s.rows, s.cols, [&](int64_t r, int64_t c) {
        ASSERT_TRUE(r >= 0 && r < s.rows && c >= 0 && c < s.cols) << r << "," << c;
        const int64_t e = r * s.cols + c;
        EXPECT_EQ(e % s.size, rank) << "element " << e << " on rank " << rank;  // the GPU's e = rank + j * size
        EXPECT_GT(e, last);
        last = e;
        ++visits[e];
      });
    }
    for (int v : visits) EXPECT_EQ(v, 1) << s.rows << "x" << s.cols << " by " << s.size;
  }
}

TEST(TeamLoops, EmptyBlocksRunNothing) {
  int calls = 0;
  team_loop2(0, 64, 0, 5, [&](int64_t, int64_t) { ++calls; });
  team_loop2(0, 64, 5, 0, [&](int64_t, int64_t) { ++calls; });
  team_loop_owned(3, 64, 4, 2, 0, [&](int64_t, int64_t, int64_t) { ++calls; });
  double w = 0;
  team_loop_owned_acc(0, 64, 0, 3, 4, [&](int64_t, int64_t) -> double& { return w; },
                      [&](int64_t, int64_t, int64_t) { ++calls; return [](double&) {}; });
  EXPECT_EQ(calls, 0);
}

TEST(TeamLoops, LoopOwnedRunsKInOrderForEachElement) {
  for (const Shape& s : kShapes) {
    for (const int64_t inner : {1, 3, 6}) {
      std::vector<int64_t> last(s.rows * s.cols, -1);
      for (int64_t rank = 0; rank < s.size; ++rank) {
        team_loop_owned(rank, s.size, s.rows, inner, s.cols, [&](int64_t r, int64_t k, int64_t c) {
          int64_t& l = last[r * s.cols + c];
          EXPECT_EQ(l, k - 1);
          l = k;
        });
      }
      for (int64_t l : last) EXPECT_EQ(l, inner - 1);
    }
  }
}

// Every stage reads the weight's memory (it must not have moved yet: the policy holds it in w until the end),
// every update must see its element's earlier streams applied in order: w_final = w_0 * 3^inner + sum of k 3^..
// Also: a rank with four elements, or an element with four streams, issues four stages before its first update
// (eight with eight streams).
TEST(TeamLoops, StagedOwnedLoopKeepsEachElementsOrderAndStagesAhead) {
  for (const Shape& s : kShapes) {
    for (const int64_t inner : {1, 2, 3, 4, 5, 9, 13}) {
      const int64_t count = s.rows * s.cols;
      std::vector<double> w(count), want(count);
      std::vector<int64_t> next_k(count, 0);
      for (int64_t e = 0; e < count; ++e) {
        w[e] = want[e] = 0.25 * double(e % 7);
        for (int64_t k = 0; k < inner; ++k) want[e] = 3 * want[e] + double(k + 1);
      }
      for (int64_t rank = 0; rank < s.size; ++rank) {
        int64_t elements = 0;
        for (int64_t e = rank; e < count; e += s.size) ++elements;
        const int64_t pairs = elements * inner;
        int64_t staged = 0, updated = 0, staged_before_first_update = -1;
        team_loop_owned_acc(
            rank, s.size, s.rows, inner, s.cols, [&](int64_t r, int64_t c) -> double& { return w[r * s.cols + c]; },
            [&](int64_t r, int64_t k, int64_t c) {
              const int64_t e = r * s.cols + c;
              EXPECT_EQ(e % s.size, rank);
              EXPECT_EQ(w[e], 0.25 * double(e % 7)) << "the memory element moved before the element's last stream";
              ++staged;
              return [&, e, k](double& acc) {
                if (staged_before_first_update < 0) staged_before_first_update = staged;
                ++updated;
                EXPECT_EQ(next_k[e], k) << "element " << e;
                next_k[e] = k + 1;
                acc = 3 * acc + double(k + 1);
              };
            });
        EXPECT_EQ(staged, pairs);
        EXPECT_EQ(updated, pairs);
        if (elements >= 4 || (elements > 0 && inner >= 4)) EXPECT_GE(staged_before_first_update, 4) << "rank " << rank;
        if (elements > 0 && inner >= 8) EXPECT_GE(staged_before_first_update, 8) << "rank " << rank;
      }
      for (int64_t e = 0; e < count; ++e) {
        EXPECT_EQ(next_k[e], inner);
        EXPECT_EQ(w[e], want[e]) << "element " << e << ", " << s.rows << "x" << s.cols << " by " << s.size;
      }
    }
  }
}

TEST(TeamLoops, MatmulEqualsLoops) {
  for (const Shape& s : kShapes) {
    const int64_t M = s.rows, N = s.cols, K = 5, lda = K + 2, ldb = N + 3, ldc = N + 1;
    std::vector<double> A(M * lda), B(K * ldb), C(M * ldc, -7.0);
    for (size_t i = 0; i < A.size(); ++i) A[i] = std::sin(0.37 * double(i));
    for (size_t i = 0; i < B.size(); ++i) B[i] = std::cos(0.11 * double(i));
    for (int64_t rank = 0; rank < s.size; ++rank) team_matmul(rank, s.size, M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc);
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < ldc; ++j) {
        double want = -7.0;
        if (j < N) {
          want = 0;
          for (int64_t k = 0; k < K; ++k) want += A[i * lda + k] * B[k * ldb + j];
        }
        EXPECT_EQ(C[i * ldc + j], want) << i << "," << j;
      }
    }
  }
}

// The emulation's warp sums (the factored rules' norms) against a plain sum, rows of 1 to 100 terms.
TEST(TeamExecEmulation, SumsEqualPlainSums) {
  const int64_t rows = 100;
  std::vector<double> out(rows, -1.0);
  auto term = [](int64_t r, int64_t k) { return std::cos(0.3 * double(r) + 0.7 * double(k)); };
  torch_local_rnn::EmulatedTeamExec<64>::sums(
      rows, rows, [&](int64_t r, int64_t k) { return k <= r ? term(r, k) : 0.0; }, out.data());
  for (int64_t r = 0; r < rows; ++r) {
    double want = 0;
    for (int64_t k = 0; k <= r; ++k) want += term(r, k);
    EXPECT_NEAR(out[r], want, 1e-12) << "row " << r;
  }
}

// dot_rotated(a, b, count, row) is dot() of the permuted vectors, bit for bit: term u of the step-th block of
// eight visited is column (u + row) mod 8 of block (row / 8 + step) mod (count / 8); the tail stays in order.
// At row 0 it is dot() itself. Values of wide magnitude, so that another order of the terms rounds differently.
TEST(TeamLoops, DotRotatedIsDotOfThePermutedRow) {
  for (const int64_t count : {1, 2, 7, 8, 16, 32, 35, 67}) {
    std::vector<double> a(count), b(count);
    for (int64_t k = 0; k < count; ++k) {
      a[k] = std::sin(1.3 * double(k)) * std::pow(10.0, double(k % 9) - 4);
      b[k] = std::cos(0.7 * double(k)) + 1e-3 * double(k);
    }
    EXPECT_EQ(torch_local_rnn::dot_rotated(a.data(), b.data(), count, int64_t{0}),
              torch_local_rnn::dot(a.data(), b.data(), count));
    EXPECT_EQ(torch_local_rnn::dot(a.data(), b.data(), int32_t(count)),
              torch_local_rnn::dot(a.data(), b.data(), count));
    const int64_t blocks = count / 8;
    for (int64_t row = 0; row < 70; ++row) {
      std::vector<double> pa(a), pb(b);
      for (int64_t step = 0; step < blocks; ++step) {
        const int64_t block = (row / 8 + step) % blocks;
        for (int64_t u = 0; u < 8; ++u) {
          pa[8 * step + u] = a[8 * block + (u + row) % 8];
          pb[8 * step + u] = b[8 * block + (u + row) % 8];
        }
      }
      EXPECT_EQ(torch_local_rnn::dot_rotated(a.data(), b.data(), count, row),
                torch_local_rnn::dot(pa.data(), pb.data(), count))
          << count << " terms, row " << row;
      EXPECT_EQ(torch_local_rnn::dot_rotated(a.data(), b.data(), int32_t(count), int32_t(row)),
                torch_local_rnn::dot_rotated(a.data(), b.data(), count, row))
          << count << " terms, row " << row << " in 32 bits";
    }
  }
}

// The grid's tiled forward (common/preactivation_tiles.h) gives each (b, i) the bits of preactivation<true>, the
// per-element forward's: ragged tiles both ways (units past 32, streams past 16), fewer units than a row group,
// inputs with no block of 8, one, and a tail; values of wide magnitude, so that another order rounds differently.
template <typename T>
void expect_tiles_equal_elements(int64_t B, int64_t n, int64_t I) {
  auto fill = [](std::vector<T>& v, int64_t count, double phase) {
    v.resize(count);
    for (int64_t k = 0; k < count; ++k) {
      v[k] = T(std::sin(phase + 1.3 * double(k)) * std::pow(10.0, double((k * 7) % 9) - 4));
    }
  };
  std::vector<T> w_hh, w_ih, bias, v, x, out(B * n, T(-1));
  fill(w_hh, n * n, 0.1), fill(w_ih, n * I, 0.2), fill(bias, n, 0.3), fill(v, B * n, 0.4), fill(x, B * I, 0.5);
  torch_local_rnn::emulated_tiled_preactivations(
      torch_local_rnn::PreactivationBatch<T>{B, n, I, w_hh.data(), w_ih.data(), bias.data(), v.data(), x.data(),
                                             out.data()});
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < n; ++i) {
      const T want = torch_local_rnn::preactivation<true>(w_hh.data(), w_ih.data(), bias.data(), n, I, i,
                                                          v.data() + b * n, x.data() + b * I);
      ASSERT_EQ(out[b * n + i], want) << "B " << B << ", n " << n << ", I " << I << ": (b, i) = (" << b << ", " << i
                                      << ")";
    }
  }
}

TEST(TiledPreactivations, EqualThePerElementForwardBitwise) {
  for (const int64_t B : {1, 8, 16, 17, 33}) {
    for (const int64_t n : {3, 8, 31, 32, 33, 80, 130}) {
      for (const int64_t I : {1, 2, 8, 19}) {
        expect_tiles_equal_elements<double>(B, n, I);
        expect_tiles_equal_elements<float>(B, n, I);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ whole steps
using torch_local_rnn::CpuExec;
using torch_local_rnn::OnlineNet;

// A network, its data and every buffer a step writes; copied for each run, so runs start alike.
struct Case {
  int64_t B, n, I = 2, O = 2, steps = 40;
  std::vector<double> w_hh, w_ih, bias, w_out, b_out, x, y, hidden, losses, state, scratch;
  Case(int64_t B_, int64_t n_, int64_t state_numel) : B(B_), n(n_) {
    auto fill = [](std::vector<double>& v, int64_t count, double scale, double phase) {
      v.resize(count);
      for (int64_t i = 0; i < count; ++i) v[i] = scale * std::sin(phase + 1.7 * double(i) + 0.013 * double(i * i));
    };
    fill(w_hh, n * n, 1.2 / std::sqrt(double(n)), 0.1);
    fill(w_ih, n * I, 1.0, 0.2);
    fill(bias, n, 0.1, 0.3);
    fill(w_out, O * n, 1.0 / std::sqrt(double(n)), 0.4);
    fill(b_out, O, 0.1, 0.5);
    fill(x, steps * B * I, 1.0, 0.6);
    fill(hidden, B * n, 0.5, 0.7);
    y.assign(steps * B * O, 0.0);
    for (int64_t r = 0; r < steps * B; ++r) y[r * O + (r * 7 / 3) % O] = 1.0;  // one-hot labels
    losses.assign(steps * B, 0.0);
    state.assign(state_numel, 0.0);
    scratch.assign(4 * B * n * (n + I + 1) + n * (n + I + 1), 0.0);
  }
  OnlineNet<double> net() {
    OnlineNet<double> net{};
    net.B = B, net.n = n, net.I = I, net.O = O;
    net.weight_hh = w_hh.data(), net.weight_ih = w_ih.data(), net.bias = bias.data();
    net.weight_out = w_out.data(), net.bias_out = b_out.data(), net.feedback = w_out.data();
    net.alpha = 0.5, net.lr = 0.05;
    net.f = torch_local_rnn::Nonlinearity::Tanh;
    net.loss = torch_local_rnn::Loss::CrossEntropy;
    return net;
  }
  template <typename Exec, typename Rule>
  void run(Rule& rule) {
    std::vector<double> activity(torch_local_rnn::online_activity_numel(B, n, O));
    const OnlineNet<double> network = net();
    torch_local_rnn::run_online_steps<Exec>(network, rule, x.data(), y.data(), hidden.data(), losses.data(), steps,
                                            torch_local_rnn::carve_online_activity(activity.data(), B, n));
  }
  std::vector<const std::vector<double>*> results() const {
    return {&w_hh, &w_ih, &bias, &w_out, &b_out, &hidden, &losses, &state};
  }
};

// make(exec, case) -> the rule under Exec, on the case's buffers.
template <typename Exec, typename Make>
Case run_case(Case c, Make make) {
  auto rule = make(Exec{}, c);
  c.run<Exec>(rule);
  return c;
}

void expect_close(const Case& got, const Case& want, double tol, const char* what) {
  const auto g = got.results(), w = want.results();
  for (size_t b = 0; b < g.size(); ++b) {
    ASSERT_EQ(g[b]->size(), w[b]->size());
    for (size_t i = 0; i < g[b]->size(); ++i) {
      ASSERT_NEAR((*g[b])[i], (*w[b])[i], tol * (1 + std::abs((*w[b])[i]))) << what << ": buffer " << b << "[" << i << "]";
    }
  }
}

void expect_bits(const Case& got, const Case& want, const char* what) {
  const auto g = got.results(), w = want.results();
  for (size_t b = 0; b < g.size(); ++b) {
    for (size_t i = 0; i < g[b]->size(); ++i) ASSERT_EQ((*g[b])[i], (*w[b])[i]) << what << ": buffer " << b << "[" << i << "]";
  }
}

// The GPU's policy at the member block's 64 threads (and a one-warp block's 32), one block's 256 and an odd 96
// against the CPU's, in the one-block kernels' 32-bit indices (BlockExec32) and, at 64 threads, in the grid's
// 64-bit ones and without the options' paths (BlockExec32Plain, which the GPU runs for a call without options, as these cases are):
// neither the index type nor the compiled-out paths move a value, so the bits agree.
template <typename Make>
void expect_policies_agree(const Case& start, Make make, const char* what) {
  Case options = start;
  ASSERT_TRUE(torch_local_rnn::plain_online_options(options.net())) << what;
  const Case cpu = run_case<CpuExec>(start, make);
  const Case team64 = run_case<torch_local_rnn::EmulatedTeamExec<64>>(start, make);
  const Case team64_wide = run_case<torch_local_rnn::EmulatedTeamExec<64, int64_t>>(start, make);
  const Case team64_plain = run_case<torch_local_rnn::EmulatedTeamExecPlain<64>>(start, make);
  const Case team32 = run_case<torch_local_rnn::EmulatedTeamExec<32>>(start, make);
  const Case team96 = run_case<torch_local_rnn::EmulatedTeamExec<96>>(start, make);
  const Case team256 = run_case<torch_local_rnn::EmulatedTeamExec<256>>(start, make);
  const Case grid = run_case<torch_local_rnn::EmulatedGridExec<256>>(start, make);
  expect_close(team64, cpu, 1e-10, what);
  expect_bits(grid, team64, what);
  expect_bits(team64_wide, team64, what);
  expect_bits(team64_plain, team64, what);
  expect_bits(team32, team64, what);
  expect_bits(team96, team64, what);
  expect_bits(team256, team64, what);
  // the weights did move: a test of a step that does nothing would pass the above
  double moved = 0;
  for (size_t i = 0; i < start.w_out.size(); ++i) moved += std::abs(cpu.w_out[i] - start.w_out[i]);
  EXPECT_GT(moved, 1e-6) << what;
}

template <typename Exec>
torch_local_rnn::RfloTrace<Exec, double> rflo_on(Case& c, bool summed) {
  const int64_t m = c.n + c.I + 1;
  return {c.state.data(), 0.3, summed ? c.scratch.data() : nullptr, summed ? c.scratch.data() + c.n * m : nullptr};
}

TEST(TeamExecEmulation, RfloStepEqualsCpuPolicy) {
  // B = 1: elements side by side (n = 32: 16 W_hh elements a thread of 64); B = 2: two streams each;
  // B = 5: four streams staged, then one; B = 13: eight, four, one. n = 12: rows wrap within a thread's
  // elements (64 = 5 x 12 + 4).
  for (const int64_t B : {1, 2, 5, 13}) {
    const int64_t n = B == 1 ? 32 : 12;
    const Case start(B, n, B * n * (n + 2 + 1));
    expect_policies_agree(start, [](auto exec, Case& c) { return rflo_on<decltype(exec)>(c, false); }, "rflo");
    // with rec_grad: G summed over streams, then one update (common/credit.h's apply_summed_gradient)
    expect_policies_agree(start, [](auto exec, Case& c) { return rflo_on<decltype(exec)>(c, true); }, "rflo summed");
  }
}

// The GPU runs its build without the options' paths only where the call uses none (cuda/online_cuda.h): each
// option alone makes a call not plain.
TEST(TeamExecEmulation, EveryOptionMakesACallNotPlain) {
  Case c(1, 4, 0);
  std::vector<double> buffer(64, 0.0);
  EXPECT_TRUE(torch_local_rnn::plain_online_options(c.net()));
  for (const auto kind : {torch_local_rnn::Optimizer::Momentum, torch_local_rnn::Optimizer::Adam,
                          torch_local_rnn::Optimizer::AdamW, torch_local_rnn::Optimizer::None}) {
    OnlineNet<double> net = c.net();
    net.opt.kind = kind;
    EXPECT_FALSE(torch_local_rnn::plain_online_options(net)) << int(kind);
  }
  OnlineNet<double> net = c.net();
  net.decay = buffer.data();
  EXPECT_FALSE(torch_local_rnn::plain_online_options(net)) << "decay";
  net = c.net();
  net.l2 = 1e-3;
  EXPECT_FALSE(torch_local_rnn::plain_online_options(net)) << "l2";
  net = c.net();
  net.lr_schedule = buffer.data();
  EXPECT_FALSE(torch_local_rnn::plain_online_options(net)) << "lr_schedule";
  net = c.net();
  net.credit = buffer.data();
  EXPECT_FALSE(torch_local_rnn::plain_online_options(net)) << "credit";
}

// An option the plain build would drop does reach the full one: with a learning-rate schedule of zeros nothing
// learns under the full emulated policy, while the plain policy (wrongly given that call) learns; so the
// compiled-out path is really the schedule's, and the launch's check above is what keeps such a call off it.
TEST(TeamExecEmulation, PlainPolicyDropsTheOptionsPaths) {
  const Case start(1, 8, 0);
  std::vector<double> zeros(start.steps, 0.0);
  const auto with_schedule = [&](auto exec) {
    using Exec = decltype(exec);
    Case c = start;
    std::vector<double> activity(torch_local_rnn::online_activity_numel(c.B, c.n, c.O));
    OnlineNet<double> net = c.net();
    net.lr_schedule = zeros.data();
    torch_local_rnn::NoRecurrentLearning rule;
    torch_local_rnn::run_online_steps<Exec>(net, rule, c.x.data(), c.y.data(), c.hidden.data(), c.losses.data(),
                                            c.steps, torch_local_rnn::carve_online_activity(activity.data(), c.B, c.n));
    return c;
  };
  const Case full = with_schedule(torch_local_rnn::EmulatedTeamExec<64>{});
  const Case plain = with_schedule(torch_local_rnn::EmulatedTeamExecPlain<64>{});
  EXPECT_EQ(full.w_out, start.w_out);  // lr 0 at every step
  EXPECT_NE(plain.w_out, start.w_out);
}

TEST(TeamExecEmulation, OutputOnlyStepEqualsCpuPolicy) {
  const Case start(3, 9, 0);
  expect_policies_agree(start, [](auto, Case&) { return torch_local_rnn::NoRecurrentLearning{}; }, "output_only");
}

TEST(TeamExecEmulation, RtrlStepEqualsCpuPolicy) {
  const int64_t B = 2, n = 6, m = n + 2 + 1;
  const Case start(B, n, B * n * n * m);
  expect_policies_agree(
      start,
      [](auto exec, Case& c) {
        using Exec = decltype(exec);
        double* s = c.scratch.data();  // tmp (n, n*m), ahat (B, m), G (n, m)
        return torch_local_rnn::RtrlInfluence<Exec, double>{c.state.data(), s, s + c.n * c.n * m,
                                                            s + c.n * c.n * m + c.B * m, nullptr, 1.0};
      },
      "rtrl");
}

}  // namespace
