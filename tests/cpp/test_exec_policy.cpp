// The CPU execution policy of the shared steps (docs/design.md §1.4): every primitive covers its elements
// exactly once, loop_owned runs k in order for each owned (r, c), matmul equals the plain triple loop (with
// leading dimensions wider than the rows, as the steps pass them), sums add in dot()'s order.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cpu/online_step_cpu.h"

namespace {

using torch_local_rnn::CpuExec;

template <typename T>
void expect_matmul_equals_loops(int64_t M, int64_t N, int64_t K) {
  const int64_t lda = K + 3, ldb = N + 2, ldc = N + 5;
  std::vector<T> A(M * lda), B(K * ldb), C(M * ldc, T(-7)), want(M * ldc, T(-7));
  for (size_t i = 0; i < A.size(); ++i) A[i] = T(std::sin(0.37 * i));
  for (size_t i = 0; i < B.size(); ++i) B[i] = T(std::cos(0.11 * i));
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += double(A[i * lda + k]) * double(B[k * ldb + j]);
      want[i * ldc + j] = T(acc);
    }
  }
  CpuExec::matmul(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc);
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      if (j < N) {
        EXPECT_NEAR(C[i * ldc + j], want[i * ldc + j], tol * K) << i << "," << j;
      } else {
        EXPECT_EQ(C[i * ldc + j], T(-7)) << "wrote outside the row at " << i << "," << j;
      }
    }
  }
}

TEST(ExecPolicy, MatmulEqualsLoops) {
  expect_matmul_equals_loops<double>(5, 7, 3);
  expect_matmul_equals_loops<float>(32, 65, 32);
  expect_matmul_equals_loops<double>(1, 1, 1);
}

TEST(ExecPolicy, LoopOwnedRunsEachOwnerOnceWithKInOrder) {
  for (const int64_t rows : {3, 700}) {  // 700 rows x 4 x 60: above the grain, parallel
    const int64_t inner = 4, cols = 60;
    std::vector<int64_t> last(rows * cols, -1), visits(rows * cols, 0);
    CpuExec::loop_owned(rows, inner, cols, 1, [&](int64_t r, int64_t k, int64_t c) {
      int64_t& l = last[r * cols + c];
      EXPECT_EQ(l, k - 1);
      l = k;
      ++visits[r * cols + c];
    });
    for (int64_t v : visits) EXPECT_EQ(v, inner);
  }
}

TEST(ExecPolicy, LoopOwned3CoversThreeBlocks) {
  const int64_t rows = 5, inner = 2, c0 = 4, c1 = 3, c2 = 1;
  std::vector<int> hits(rows * (c0 + c1 + c2), 0);
  const int64_t m = c0 + c1 + c2;
  CpuExec::loop_owned3(
      rows, inner, c0, c1, c2, 1, [&](int64_t r, int64_t, int64_t c) { ++hits[r * m + c]; },
      [&](int64_t r, int64_t, int64_t c) { ++hits[r * m + c0 + c]; },
      [&](int64_t r, int64_t, int64_t c) { ++hits[r * m + c0 + c1 + c]; });
  for (int h : hits) EXPECT_EQ(h, inner);
}

TEST(ExecPolicy, Loop2AndSumsCoverEveryElement) {
  const int64_t rows = 6, cols = 9;
  std::vector<int> hits(rows * cols, 0);
  CpuExec::loop2(rows, cols, 1, [&](int64_t r, int64_t c) { ++hits[r * cols + c]; });
  for (int h : hits) EXPECT_EQ(h, 1);
  std::vector<double> out(rows, -1);
  CpuExec::sums(rows, cols, [&](int64_t r, int64_t k) { return double(r * 100 + k); }, out.data());
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(out[r], double(r * 100 * cols + cols * (cols - 1) / 2));
}

TEST(ExecPolicy, SumsOfSquaresEqualDot) {
  std::vector<double> v(83);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(1.3 * i) * 1e3 + 1e-3 * i;
  double out = 0;
  CpuExec::sums(1, 83, [&](int64_t, int64_t k) { return v[k] * v[k]; }, &out);
  EXPECT_EQ(out, torch_local_rnn::dot(v.data(), v.data(), 83));  // bitwise: the same order
}

}  // namespace
