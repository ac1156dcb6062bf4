// The GPU path switches and their errors (common/gpu_paths.h), which are host code and so testable without a
// GPU: TLR_CUDA_SEQUENCE's values and its error, and the errors that name sizes (built without an ostream).
#include <gtest/gtest.h>

#include <c10/util/Exception.h>

#include <cstdlib>
#include <string>

#include "common/gpu_paths.h"

namespace {

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

// Sets TLR_CUDA_SEQUENCE for the test (unset with nullptr) and restores it afterwards.
class SequenceSwitch : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("TLR_CUDA_SEQUENCE");
    had_ = old != nullptr;
    if (had_) old_ = old;
  }
  void TearDown() override {
    if (had_) {
      setenv("TLR_CUDA_SEQUENCE", old_.c_str(), 1);
    } else {
      unsetenv("TLR_CUDA_SEQUENCE");
    }
  }
  static void set(const char* value) {
    if (value == nullptr) {
      unsetenv("TLR_CUDA_SEQUENCE");
    } else {
      setenv("TLR_CUDA_SEQUENCE", value, 1);
    }
  }

 private:
  bool had_ = false;
  std::string old_;
};

TEST_F(SequenceSwitch, ParsesEveryValue) {
  set(nullptr);
  EXPECT_EQ(torch_local_rnn::sequence_path("op"), SequencePath::Auto);
  set("");
  EXPECT_EQ(torch_local_rnn::sequence_path("op"), SequencePath::Auto);
  set("auto");
  EXPECT_EQ(torch_local_rnn::sequence_path("op"), SequencePath::Auto);
  set("persistent");
  EXPECT_EQ(torch_local_rnn::sequence_path("op"), SequencePath::Persistent);
  set("stepwise");
  EXPECT_EQ(torch_local_rnn::sequence_path("op"), SequencePath::Stepwise);
}

TEST_F(SequenceSwitch, BadValueNamesTheVariableTheValueAndTheChoices) {
  set("fast");
  expect_error_containing([] { torch_local_rnn::sequence_path("leaky_rnn_forward"); },
                          "leaky_rnn_forward: expected the environment variable TLR_CUDA_SEQUENCE to be 'auto', "
                          "'persistent' or 'stepwise', but got 'fast'");
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

}  // namespace
