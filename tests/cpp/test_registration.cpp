// Every op is registered and resolvable through the dispatcher from C++ (the static
// TORCH_LIBRARY initialisers ran: the binary links the library with --no-as-needed).
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>

#include <torch_local_rnn/ops.h>

TEST(Registration, EverySchemaResolves) {
  for (const char* name : {"leaky_rnn", "leaky_rnn_forward", "leaky_rnn_bptt_backward", "leaky_rnn_rflo_backward",
                           "leaky_rnn_rule_backward", "online_learn", "rflo_online", "cuda_version"}) {
    EXPECT_TRUE(c10::Dispatcher::singleton().findSchema({std::string("torch_local_rnn::") + name, ""}).has_value())
        << name;
  }
}

TEST(Registration, CudaVersionMatchesBuild) {
#ifdef WITH_CUDA
  EXPECT_GT(torch_local_rnn::cuda_version(), 0);
#else
  EXPECT_EQ(torch_local_rnn::cuda_version(), -1);
#endif
}
