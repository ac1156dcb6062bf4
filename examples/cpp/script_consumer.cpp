// Runs a TorchScript model containing LocalRNN from C++ (torch::jit::load; the model is written by
// examples/cpp/make_scripted_model.py): forward on a random batch, backward through the rule the model was
// built with, and prints the loss and the recurrent weights' gradient norm. Exits non-zero on failure.
#include <torch/script.h>
#include <torch/torch.h>
#include <torch_local_rnn/ops.h>  // linking the op library registers the ops the model calls

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s model.pt\n", argv[0]);
    return 2;
  }
  std::printf("torch_local_rnn CUDA runtime: %lld\n", static_cast<long long>(torch_local_rnn::cuda_version()));
  torch::jit::Module model = torch::jit::load(argv[1]);
  torch::manual_seed(0);
  auto x = torch::randn({20, 3, 2}, torch::kFloat64);  // (T, B, input_size), as the script was made
  auto out = model.forward({x}).toTensor();
  auto loss = out.pow(2).mean();
  loss.backward();
  double norm = 0;
  for (const auto& p : model.named_parameters()) {
    if (p.name.find("weight_hh") != std::string::npos) norm = p.value.grad().norm().item<double>();
  }
  std::printf("scripted model: output %lld x %lld x %lld, loss %.6f, |dL/dW_hh| %.6f\n",
              static_cast<long long>(out.size(0)), static_cast<long long>(out.size(1)),
              static_cast<long long>(out.size(2)), loss.item<double>(), norm);
  return norm > 0 && std::isfinite(norm) ? 0 : 1;
}
