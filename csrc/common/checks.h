// Argument checks shared by every op. Each failure names the op, the argument, what was
// expected and what came, so a bad call fails loudly instead of writing garbage.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <sstream>
#include <string>
#include <vector>

namespace torch_local_rnn {

inline std::string shape_str(at::IntArrayRef sizes) {
  std::ostringstream s;
  s << "(";
  for (size_t i = 0; i < sizes.size(); ++i) s << (i ? ", " : "") << sizes[i];
  s << (sizes.size() == 1 ? ",)" : ")");
  return s.str();
}

inline void check_defined(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK(t.defined(), op, ": expected ", name, " to be a tensor, but got an undefined tensor");
}

inline void check_floating(const at::Tensor& t, const char* op, const char* name) {
  check_defined(t, op, name);
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": expected ", name,
              " to be a float32 or float64 tensor, but got ", t.scalar_type());
}

// Checks rank and size; `layout` spells the expected dimensions, e.g. "(seq_len, batch, input_size)".
inline void check_shape(const at::Tensor& t, std::vector<int64_t> expected, const char* op, const char* name,
                        const char* layout) {
  check_defined(t, op, name);
  TORCH_CHECK(t.dim() == static_cast<int64_t>(expected.size()), op, ": expected ", name, " to be ",
              expected.size(), "-D ", layout, ", but got a ", t.dim(), "-D tensor of shape ", shape_str(t.sizes()));
  for (size_t d = 0; d < expected.size(); ++d) {
    TORCH_CHECK(expected[d] < 0 || t.size(d) == expected[d], op, ": expected ", name, " of shape ", layout, " = ",
                shape_str(expected), " (-1: any), but got ", shape_str(t.sizes()));
  }
}

// `t` must share dtype and device with `ref` (the op's first floating argument).
inline void check_like(const at::Tensor& t, const at::Tensor& ref, const char* op, const char* name,
                       const char* ref_name) {
  check_defined(t, op, name);
  TORCH_CHECK(t.scalar_type() == ref.scalar_type(), op, ": expected ", name, " to have the dtype of ", ref_name,
              " (", ref.scalar_type(), "), but got ", t.scalar_type());
  TORCH_CHECK(t.device() == ref.device(), op, ": expected ", name, " to be on the device of ", ref_name, " (",
              ref.device(), "), but got ", t.device());
}

inline void check_rate(double value, const char* op, const char* name) {
  TORCH_CHECK(value > 0.0 && value <= 1.0, op, ": expected ", name, " in (0, 1], but got ", value);
}

inline void check_nonempty(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK(t.numel() > 0, op, ": expected ", name, " to be non-empty, but got shape ", shape_str(t.sizes()));
}

// Arguments of the shared leaky-RNN forward pass; throws on the first problem.
// x (T, B, I), h0 (B, n), weight_hh (n, n), weight_ih (n, I).
inline void check_network_args(const char* op, const at::Tensor& x, const at::Tensor& h0,
                               const at::Tensor& weight_hh, const at::Tensor& weight_ih, double alpha) {
  check_floating(x, op, "x");
  check_shape(x, {-1, -1, -1}, op, "x", "(seq_len, batch, input_size)");
  check_nonempty(x, op, "x");
  const int64_t B = x.size(1), I = x.size(2);
  check_like(weight_hh, x, op, "weight_hh", "x");
  TORCH_CHECK(weight_hh.dim() == 2 && weight_hh.size(0) == weight_hh.size(1), op,
              ": expected weight_hh to be a square 2-D (hidden_size, hidden_size) tensor, but got shape ",
              shape_str(weight_hh.sizes()));
  const int64_t n = weight_hh.size(0);
  TORCH_CHECK(n > 0, op, ": expected hidden_size > 0, but got weight_hh of shape ", shape_str(weight_hh.sizes()));
  check_like(weight_ih, x, op, "weight_ih", "x");
  check_shape(weight_ih, {n, I}, op, "weight_ih", "(hidden_size, input_size)");
  check_like(h0, x, op, "h0", "x");
  check_shape(h0, {B, n}, op, "h0", "(batch, hidden_size)");
  check_rate(alpha, op, "alpha");
}

inline void check_bias(const char* op, const at::Tensor& bias, const at::Tensor& x, int64_t n) {
  check_like(bias, x, op, "bias", "x");
  check_shape(bias, {n}, op, "bias", "(hidden_size,)");
}

// Extra arguments of the sequence-form backward ops.
inline void check_backward_args(const char* op, const at::Tensor& grad_output, const at::Tensor& x,
                                const at::Tensor& h0, const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                const at::Tensor& output, const at::Tensor& dphi, double alpha) {
  check_network_args(op, x, h0, weight_hh, weight_ih, alpha);
  const std::vector<int64_t> seq = {x.size(0), x.size(1), weight_hh.size(0)};
  for (auto [t, name] : {std::pair<const at::Tensor&, const char*>{grad_output, "grad_output"},
                         {output, "output"}, {dphi, "dphi"}}) {
    check_like(t, x, op, name, "x");
    check_shape(t, seq, op, name, "(seq_len, batch, hidden_size)");
  }
}

// A rule's read-only inputs (rule_tensors): exactly `count` of them, laid out as `layout`.
inline void check_rule_tensor_count(at::TensorList tensors, size_t count, const char* op, const char* rule,
                                    const char* layout) {
  TORCH_CHECK(tensors.size() == count, op, ": rule '", rule, "' expects rule_tensors = ", layout, ", but got ",
              tensors.size(), " tensors");
}

// rule_tensors[k] checked against x (dtype, device) and `shape` (-1: any), as a contiguous tensor
// (a copy only when the caller's is not), ready for raw-pointer reads.
inline at::Tensor rule_tensor(at::TensorList tensors, size_t k, const at::Tensor& x, std::vector<int64_t> shape,
                              const char* op, const char* name, const char* layout) {
  check_defined(tensors[k], op, name);
  check_like(tensors[k], x, op, name, "x");
  check_shape(tensors[k], std::move(shape), op, name, layout);
  return tensors[k].contiguous();
}

}  // namespace torch_local_rnn
