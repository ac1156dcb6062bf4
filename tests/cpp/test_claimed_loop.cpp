// The CPU's parallel loop of the online step (cpu/claimed_loop.h, docs/design.md §1.5): every index runs exactly
// once whatever thread claims it, back-to-back loops (late helpers of the one before) never run a chunk of the
// next, and loops called from several threads at once keep to their own ranges.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <thread>
#include <vector>

#include "cpu/claimed_loop.h"

namespace {

using torch_local_rnn::ClaimedLoop;

struct ThreadsGuard {
  int before = at::get_num_threads();
  explicit ThreadsGuard(int threads) { at::set_num_threads(threads); }
  ~ThreadsGuard() { at::set_num_threads(before); }
};

void expect_each_index_once(int64_t begin, int64_t end, int64_t grain) {
  std::vector<std::atomic<int>> hits(end);
  ClaimedLoop::run(begin, end, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) hits[k].fetch_add(1);
  });
  for (int64_t k = 0; k < end; ++k) EXPECT_EQ(hits[k].load(), k >= begin ? 1 : 0) << "index " << k;
}

TEST(ClaimedLoop, EveryIndexOnceForAnySplit) {
  const ThreadsGuard threads(2);
  for (int64_t grain : {1, 3, 64, 1000}) {
    expect_each_index_once(0, 1000, grain);
    expect_each_index_once(7, 1003, grain);
  }
  expect_each_index_once(5, 5, 1);  // empty
}

TEST(ClaimedLoop, BackToBackLoopsStayApart) {
  // thousands of short loops in a row: a helper task of loop g that starts late must not run a chunk of g + 1
  // with g's body (the ticket carries the generation and the sizes); each loop's sum is checked on its own
  const ThreadsGuard threads(2);
  for (int round = 0; round < 3000; ++round) {
    std::atomic<int64_t> sum{0};
    const int64_t end = 64 + round % 37;
    ClaimedLoop::run(0, end, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) sum.fetch_add(k + round);
    });
    ASSERT_EQ(sum.load(), end * (end - 1) / 2 + end * round) << "round " << round;
  }
}

TEST(ClaimedLoop, LoopsFromSeveralThreadsAtOnce) {
  const ThreadsGuard threads(2);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&failures, c] {
      for (int round = 0; round < 300; ++round) {
        std::atomic<int64_t> sum{0};
        ClaimedLoop::run(0, 100 + c, 2, [&](int64_t lo, int64_t hi) {
          for (int64_t k = lo; k < hi; ++k) sum.fetch_add(k);
        });
        if (sum.load() != (100 + c) * (99 + c) / 2) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
