// The one TORCH_LIBRARY block of torch_local_rnn: every schema lives here and nowhere else.
// Backends add kernels with TORCH_LIBRARY_IMPL in cpu/, cuda/ and autograd/.
//
// Notation (algorithms.md §1): x_t input, a_t state (the "output"), h_t pre-activation,
// h_t = W_hh a_{t-1} + W_ih x_t + b,  a_t = (1-alpha) a_{t-1} + alpha * phi(h_t).
#include <torch/library.h>

namespace torch_local_rnn {
int64_t cuda_version_impl();  // version.cpp
}

TORCH_LIBRARY(torch_local_rnn, m) {
  // Differentiable forward used by LocalRNN. The Autograd kernel routes the backward to the
  // rule named by `rule` ("bptt": exact gradient; "rflo": RFLO estimate with
  // rule_options = [trace_alpha]; any other rule with a sequence form through
  // leaky_rnn_rule_backward, with its read-only rule_tensors: noise draws, learned rates).
  // Returns the states a_1..a_T, shape (T, B, n).
  m.def(
      "leaky_rnn(Tensor x, Tensor h0, Tensor weight_hh, Tensor weight_ih, Tensor bias, "
      "float alpha, str nonlinearity, str rule, float[] rule_options, Tensor[] rule_tensors) -> Tensor");

  // Plain forward: states a_1..a_T and dphi_t = phi'(h_t), both (T, B, n).
  m.def(
      "leaky_rnn_forward(Tensor x, Tensor h0, Tensor weight_hh, Tensor weight_ih, Tensor bias, "
      "float alpha, str nonlinearity) -> (Tensor output, Tensor dphi)");

  // Exact BPTT backward of leaky_rnn_forward given dL/da_t for every t.
  m.def(
      "leaky_rnn_bptt_backward(Tensor grad_output, Tensor x, Tensor h0, Tensor weight_hh, "
      "Tensor weight_ih, Tensor output, Tensor dphi, float alpha) "
      "-> (Tensor grad_x, Tensor grad_h0, Tensor grad_weight_hh, Tensor grad_weight_ih, Tensor grad_bias)");

  // RFLO estimate over a window with frozen weights, in GEMM form (no B x n x m trace).
  // grad_x and grad_h0 are the instantaneous (one-step) gradients.
  m.def(
      "leaky_rnn_rflo_backward(Tensor grad_output, Tensor x, Tensor h0, Tensor weight_hh, "
      "Tensor weight_ih, Tensor output, Tensor dphi, float alpha, float trace_alpha) "
      "-> (Tensor grad_x, Tensor grad_h0, Tensor grad_weight_hh, Tensor grad_weight_ih, Tensor grad_bias)");

  // Sequence form of the local rules without an op of their own (rule_options and rule_tensors
  // per rule in common/rule_options.cpp and the rule's kernel file); grad_x and grad_h0 are the
  // one-step gradients. Kernels live in one file per rule per backend (cpu/<rule>_cpu.cpp).
  m.def(
      "leaky_rnn_rule_backward(Tensor grad_output, Tensor x, Tensor h0, Tensor weight_hh, "
      "Tensor weight_ih, Tensor output, Tensor dphi, float alpha, str rule, float[] rule_options, "
      "Tensor[] rule_tensors) "
      "-> (Tensor grad_x, Tensor grad_h0, Tensor grad_weight_hh, Tensor grad_weight_ih, Tensor grad_bias)");

  // Online form of any rule, the order of algorithms.md §2.1 (as rflo_online). `state` holds the
  // rule's carried tensors (traces, influence matrices, histories), updated in place. When
  // rec_grad (n, n + input_size + 1) is given, every step's recurrent update direction G_t
  // (mean over streams) is added to it: with lr = 0 that is the rule's gradient estimate.
  // rule_tensors are read-only per-step inputs of the rule (the noise draws of the stochastic
  // rules, (T, B, k)); `record`, for the rules that record (dni, dni_b), receives per-step
  // internal signals (T, B, k, n). l2 adds l2 W to the gradients of W_hh, W_ih and W_out (not the
  // biases), every step (algorithms.md §2.1 4d).
  m.def(
      "online_learn(str rule, Tensor x, Tensor y, Tensor(a!) hidden, Tensor(b!) weight_hh, "
      "Tensor(c!) weight_ih, Tensor(d!) bias, Tensor(e!) weight_out, Tensor(f!) bias_out, "
      "Tensor(g!)[] state, Tensor(h!)? rec_grad, Tensor? feedback, float alpha, str nonlinearity, "
      "str loss, float lr, float[] rule_options, Tensor[] rule_tensors, Tensor(i!)? record=None, float l2=0.0) -> Tensor");

  // Online RFLO (algorithms.md §2.1 order): per step forward, readout z = W_out a + b_out,
  // loss, trace update, gradients, SGD update of all weights in place. Carries `hidden`
  // (B, n) and `trace` (B, n, n + input_size + 1) across calls. Returns per-step losses (T, B).
  m.def(
      "rflo_online(Tensor x, Tensor y, Tensor(a!) hidden, Tensor(b!) trace, "
      "Tensor(c!) weight_hh, Tensor(d!) weight_ih, Tensor(e!) bias, Tensor(f!) weight_out, "
      "Tensor(g!) bias_out, Tensor? feedback, float alpha, float trace_alpha, str nonlinearity, "
      "str loss, float lr, float l2=0.0) -> Tensor");

  // -1 for a CPU-only build, else the CUDA version the library was compiled with (e.g. 13000).
  m.def("cuda_version() -> int", &torch_local_rnn::cuda_version_impl);
}
