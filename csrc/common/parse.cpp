#include "activation.h"

#include <c10/util/Exception.h>

namespace torch_local_rnn {

Nonlinearity parse_nonlinearity(const std::string& name, const char* op) {
  if (name == "tanh") return Nonlinearity::Tanh;
  if (name == "relu") return Nonlinearity::Relu;
  if (name == "sigmoid") return Nonlinearity::Sigmoid;
  TORCH_CHECK(false, op, ": expected nonlinearity to be one of 'tanh', 'relu', 'sigmoid', but got '", name, "'");
}

Loss parse_loss(const std::string& name, const char* op) {
  if (name == "cross_entropy") return Loss::CrossEntropy;
  if (name == "mse") return Loss::Mse;
  if (name == "mse_mean") return Loss::MseMean;
  TORCH_CHECK(false, op, ": expected loss to be one of 'cross_entropy', 'mse', 'mse_mean', but got '", name, "'");
}

}  // namespace torch_local_rnn
