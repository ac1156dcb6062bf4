// The GPU path switches and their errors (common/gpu_paths.h), which are host code and so testable without a
// GPU: TLR_CUDA_SEQUENCE's, TLR_CUDA_PERSISTENT's, TLR_CUDA_ONLINE's and TLR_CUDA_MEMBERS' values and errors, the
// errors that name sizes (built without an ostream), and the extent that keeps a call off the 32-bit one-block
// kernels (common/online_extent.h).
#include <gtest/gtest.h>

#include <c10/util/Exception.h>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>

#include "common/gpu_paths.h"
#include "common/online_extent.h"
#include "common/online_step.h"
#include "cpu/online_step_cpu.h"
#include "rules/rflo/rflo_step.h"
#include "rules/rtrl/rtrl_step.h"

namespace {

using torch_local_rnn::OnlinePath;
using torch_local_rnn::PersistentKernel;
using torch_local_rnn::SequencePath;

// fn() must throw a c10::Error whose message holds `expected`.
template <typename F>
void expect_error_containing(F&& fn, const std::string& expected) {
  try {
    fn();
    FAIL() << "no error; expected one containing: " << expected;
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
}

// Sets the switches for the test (unset with nullptr) and restores them afterwards.
class Switches : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kCount; ++i) {
      const char* old = std::getenv(kNames[i]);
      had_[i] = old != nullptr;
      if (had_[i]) old_[i] = old;
    }
  }
  void TearDown() override {
    for (int i = 0; i < kCount; ++i) set(kNames[i], had_[i] ? old_[i].c_str() : nullptr);
  }
  // Each value of `variable` (nullptr: unset) parses to its choice.
  template <typename Choice, typename Parse>
  static void expect_choices(const char* variable, Parse parse,
                             std::initializer_list<std::pair<const char*, Choice>> cases) {
    for (const auto& [value, expected] : cases) {
      set(variable, value);
      EXPECT_EQ(parse(), expected) << variable << " = " << (value == nullptr ? "(unset)" : value);
    }
  }
  static void set(const char* name, const char* value) {
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, 1);
    }
  }

 private:
  static constexpr int kCount = 4;
  static constexpr const char* kNames[kCount] = {"TLR_CUDA_SEQUENCE", "TLR_CUDA_PERSISTENT", "TLR_CUDA_ONLINE",
                                                 "TLR_CUDA_MEMBERS"};
  bool had_[kCount] = {false, false, false, false};
  std::string old_[kCount];
};

TEST_F(Switches, SequenceParsesEveryValue) {
  expect_choices<SequencePath>("TLR_CUDA_SEQUENCE", [] { return torch_local_rnn::sequence_path("op"); },
                               {{nullptr, SequencePath::Auto},
                                {"", SequencePath::Auto},
                                {"auto", SequencePath::Auto},
                                {"persistent", SequencePath::Persistent},
                                {"stepwise", SequencePath::Stepwise}});
}

TEST_F(Switches, SequenceBadValueNamesTheVariableTheValueAndTheChoices) {
  set("TLR_CUDA_SEQUENCE", "fast");
  expect_error_containing([] { torch_local_rnn::sequence_path("leaky_rnn_forward"); },
                          "leaky_rnn_forward: expected the environment variable TLR_CUDA_SEQUENCE to be 'auto', "
                          "'persistent' or 'stepwise' (unset: 'auto'), but got 'fast'");
}

TEST_F(Switches, PersistentKernelParsesEveryValue) {
  expect_choices<PersistentKernel>("TLR_CUDA_PERSISTENT", [] { return torch_local_rnn::persistent_kernel("op"); },
                                   {{nullptr, PersistentKernel::Auto},
                                    {"", PersistentKernel::Auto},
                                    {"auto", PersistentKernel::Auto},
                                    {"warp", PersistentKernel::Warp},
                                    {"cluster", PersistentKernel::Cluster},
                                    {"flags", PersistentKernel::Flags}});
}

TEST_F(Switches, PersistentKernelBadValueNamesTheVariableTheValueAndTheChoices) {
  set("TLR_CUDA_PERSISTENT", "dsmem");
  expect_error_containing([] { torch_local_rnn::persistent_kernel("leaky_rnn_bptt_backward"); },
                          "leaky_rnn_bptt_backward: expected the environment variable TLR_CUDA_PERSISTENT to be "
                          "'auto', 'warp', 'cluster' or 'flags' (unset: 'auto'), but got 'dsmem'");
}

TEST_F(Switches, OnlineParsesEveryValue) {
  expect_choices<OnlinePath>("TLR_CUDA_ONLINE", [] { return torch_local_rnn::online_path(); },
                             {{nullptr, OnlinePath::Auto},
                              {"auto", OnlinePath::Auto},
                              {"block", OnlinePath::Block},
                              {"grid", OnlinePath::Grid}});
}

TEST_F(Switches, OnlineBadValueNamesTheVariableTheValueAndTheChoices) {
  set("TLR_CUDA_ONLINE", "sideways");
  expect_error_containing([] { torch_local_rnn::online_path(); },
                          "online_learn (CUDA): expected the environment variable TLR_CUDA_ONLINE to be 'auto', "
                          "'block' or 'grid' (unset: 'auto'), but got 'sideways'");
}

TEST_F(Switches, MembersParsesEveryValue) {
  struct Expected {
    const char* value;
    bool automatic;
    int threads;
    bool capped;
  };
  const Expected cases[] = {{nullptr, true, 0, false},   {"", true, 0, false},          {"auto", true, 0, false},
                            {"32", false, 32, false},    {"64", false, 64, false},      {"128", false, 128, false},
                            {"256", false, 256, false},  {"capped64", false, 64, true}, {"capped128", false, 128, true},
                            {"capped256", false, 256, true}};
  for (const Expected& want : cases) {
    set("TLR_CUDA_MEMBERS", want.value);
    const torch_local_rnn::MembersChoice got = torch_local_rnn::members_choice();
    const std::string what = want.value == nullptr ? "(unset)" : want.value;
    EXPECT_EQ(got.automatic, want.automatic) << what;
    EXPECT_EQ(got.threads, want.threads) << what;
    EXPECT_EQ(got.capped, want.capped) << what;
  }
}

TEST_F(Switches, MembersBadValueNamesTheVariableTheValueAndTheChoices) {
  set("TLR_CUDA_MEMBERS", "96");
  expect_error_containing([] { torch_local_rnn::members_choice(); },
                          "online_learn_members (CUDA): expected the environment variable TLR_CUDA_MEMBERS to be "
                          "'auto', '32', '64', '128', '256', 'capped64', 'capped128' or 'capped256' (unset: 'auto'), "
                          "but got '96'");
}

TEST(PersistentRan, FallsBackUnlessPersistentWasAskedFor) {
  EXPECT_TRUE(torch_local_rnn::persistent_ran("op", SequencePath::Persistent, nullptr, 4, 1, 2));
  EXPECT_TRUE(torch_local_rnn::persistent_ran("op", SequencePath::Auto, nullptr, 4, 1, 2));
  EXPECT_FALSE(torch_local_rnn::persistent_ran("op", SequencePath::Auto, "too big", 4, 1, 2));
  EXPECT_FALSE(torch_local_rnn::persistent_ran("op", SequencePath::Stepwise, "TLR_CUDA_SEQUENCE=stepwise", 4, 1, 2));
}

TEST(PersistentRan, RefusalNamesTheSizesAndTheReason) {
  expect_error_containing(
      [] {
        torch_local_rnn::persistent_ran("leaky_rnn_forward", SequencePath::Persistent, "no block shape fits", 1000, 2,
                                        3000000000LL);
      },
      "leaky_rnn_forward: TLR_CUDA_SEQUENCE=persistent, but the persistent kernel cannot run hidden_size = 1000, "
      "batch = 2, seq_len = 3000000000: no block shape fits; unset TLR_CUDA_SEQUENCE");
}

TEST(StreamBlocks, AcceptsTheLimitAndNamesBatchBeyondIt) {
  EXPECT_NO_THROW(torch_local_rnn::check_stream_blocks("op", "rule 'e_bptt'", 2147483647LL, 2147483647LL));
  expect_error_containing(
      [] {
        torch_local_rnn::check_stream_blocks("leaky_rnn_rule_backward", "the factored rules", 2147483648LL,
                                             2147483647LL);
      },
      "leaky_rnn_rule_backward: the CUDA kernel of the factored rules runs one block per stream, at most 2147483647 "
      "streams, but got batch = 2147483648");
}

TEST(BlockIndices, AcceptsTheLimitAndNamesTheSizesBeyondIt) {
  EXPECT_NO_THROW(torch_local_rnn::check_block_indices(torch_local_rnn::kBlockIndexLimit, 1, 2, 3, 4));
  expect_error_containing(
      [] { torch_local_rnn::check_block_indices(torch_local_rnn::kBlockIndexLimit + 1, 16, 512, 2, 3); },
      "online_learn (CUDA): the one-block kernel indexes in 32 bits, at most 2146435072 elements, but batch = 16, "
      "hidden_size = 512, input_size = 2, output_size = 3 reach 2146435073; unset TLR_CUDA_ONLINE (or set it to "
      "'grid') to run the grid kernel");
}

// The extent bounds every buffer a step indexes, whichever is largest: RFLO's (B, n, m) trace, RTRL's B influence
// matrices (n x n m each: its grid_items is per stream, so the B must not be lost), the readout when O is large,
// the activity when B is; and a size past the limit does not fit.
TEST(BlockIndices, ExtentBoundsEveryBufferOfTheStep) {
  using Rflo = torch_local_rnn::RfloTrace<torch_local_rnn::CpuExec, float>;
  using Rtrl = torch_local_rnn::RtrlInfluence<torch_local_rnn::CpuExec, float>;
  using torch_local_rnn::online_activity_numel;
  using torch_local_rnn::kernels::online_index_extent;
  struct Sizes {
    int64_t B, n, I, O;
  };
  for (const Sizes s : {Sizes{1, 32, 2, 2}, Sizes{16, 128, 2, 2}, Sizes{1, 32, 1, 64}, Sizes{4096, 3, 1, 2},
                        Sizes{64, 1024, 2, 2}, Sizes{3, 5, 700, 9}}) {
    const int64_t m = s.n + s.I + 1;
    const int64_t buffers[] = {s.B * s.n * m,                                // a (B, n, m) trace
                               s.n * (s.n + s.O + 1),                        // DNI's synthesiser
                               s.O * (s.n + 1),                              // [W_out | b_out], its gradient
                               online_activity_numel(s.B, s.n, s.O)};        // the per-step activity
    for (const int64_t numel : buffers) {
      EXPECT_GE(online_index_extent<Rflo>(s.B, s.n, s.I, s.O), numel) << s.B << " " << s.n << " " << s.O;
      EXPECT_GE(online_index_extent<Rtrl>(s.B, s.n, s.I, s.O), numel);
    }
    EXPECT_GE(online_index_extent<Rtrl>(s.B, s.n, s.I, s.O), s.B * s.n * s.n * m) << "RTRL's influence";
  }
  // RTRL at n = 512, B = 16: influence matrices of 2.16e9 entries, past the limit; RFLO's trace there is not.
  EXPECT_GT(online_index_extent<Rtrl>(16, 512, 2, 2), torch_local_rnn::kBlockIndexLimit);
  EXPECT_LT(online_index_extent<Rflo>(16, 512, 2, 2), torch_local_rnn::kBlockIndexLimit);
}

}  // namespace
