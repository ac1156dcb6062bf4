// The one TORCH_LIBRARY block of torch_local_rnn: every schema lives here and nowhere else.
// Backends add kernels with TORCH_LIBRARY_IMPL in cpu/, cuda/ and autograd/.
//
// Notation (docs/algorithms.md §1): x_t input, a_t state (the "output"), h_t pre-activation,
// h_t = W_hh a_{t-1} + W_ih x_t + b,  a_t = (1-alpha) a_{t-1} + alpha * phi(h_t).
#include <torch/library.h>

#include "common/rule_descriptor.h"

namespace torch_local_rnn {
int64_t cuda_version_impl();  // version.cpp
int64_t members_simd_calls_op();  // cpu/members_simd_cpu.cpp
std::string online_step_isa_op();  // cpu/online_step_isa.cpp
// The rules' descriptors (common/rule_descriptor.cpp).
std::vector<std::string> rule_names_op();
std::tuple<std::vector<std::string>, std::vector<double>, std::vector<int64_t>, bool, bool> rule_info_op(
    c10::string_view rule);
void rule_check_op(c10::string_view rule, c10::ArrayRef<double> rule_options, double alpha, c10::string_view form);
std::tuple<std::vector<std::string>, std::vector<int64_t>, std::vector<int64_t>> rule_state_shapes_op(
    c10::string_view rule, c10::ArrayRef<double> rule_options, double alpha, int64_t batch, int64_t hidden_size,
    int64_t input_size, int64_t output_size);
}

TORCH_LIBRARY(torch_local_rnn, m) {
  // Differentiable forward used by LocalRNN. The Autograd kernel routes the backward to
  // leaky_rnn_rule_backward with the rule named by `rule` ("bptt": exact gradient; "rflo": RFLO's
  // estimate with rule_options = [trace_alpha]; every rule with a sequence form), with its read-only
  // rule_tensors (noise draws, learned rates).
  // Returns the states a_1..a_T, shape (T, B, n).
  m.def(
      "leaky_rnn(Tensor x, Tensor h0, Tensor weight_hh, Tensor weight_ih, Tensor bias, "
      "float alpha, str nonlinearity, str rule, float[] rule_options, Tensor[] rule_tensors) -> Tensor");

  // Plain forward: states a_1..a_T and dphi_t = phi'(h_t), both (T, B, n).
  m.def(
      "leaky_rnn_forward(Tensor x, Tensor h0, Tensor weight_hh, Tensor weight_ih, Tensor bias, "
      "float alpha, str nonlinearity) -> (Tensor output, Tensor dphi)");

  // Exact BPTT backward of leaky_rnn_forward given dL/da_t for every t: an alias of
  // leaky_rnn_rule_backward(..., rule="bptt").
  m.def(
      "leaky_rnn_bptt_backward(Tensor grad_output, Tensor x, Tensor h0, Tensor weight_hh, "
      "Tensor weight_ih, Tensor output, Tensor dphi, float alpha) "
      "-> (Tensor grad_x, Tensor grad_h0, Tensor grad_weight_hh, Tensor grad_weight_ih, Tensor grad_bias)");

  // RFLO estimate over a window with frozen weights, in GEMM form (no B x n x m trace): an alias of
  // leaky_rnn_rule_backward(..., rule="rflo", rule_options=[trace_alpha]).
  // grad_x and grad_h0 are the instantaneous (one-step) gradients.
  m.def(
      "leaky_rnn_rflo_backward(Tensor grad_output, Tensor x, Tensor h0, Tensor weight_hh, "
      "Tensor weight_ih, Tensor output, Tensor dphi, float alpha, float trace_alpha) "
      "-> (Tensor grad_x, Tensor grad_h0, Tensor grad_weight_hh, Tensor grad_weight_ih, Tensor grad_bias)");

  // Sequence form of every rule that has one, given dL/da_t (rule_options as the rule's descriptor in
  // csrc/rules/ declares them, rule_tensors per rule in its kernel file); for every rule but bptt,
  // grad_x and grad_h0 are the one-step gradients. Kernels: csrc/rules/<rule>/.
  m.def(
      "leaky_rnn_rule_backward(Tensor grad_output, Tensor x, Tensor h0, Tensor weight_hh, "
      "Tensor weight_ih, Tensor output, Tensor dphi, float alpha, str rule, float[] rule_options, "
      "Tensor[] rule_tensors) "
      "-> (Tensor grad_x, Tensor grad_h0, Tensor grad_weight_hh, Tensor grad_weight_ih, Tensor grad_bias)");

  // Online form of every rule that has one, the order of docs/algorithms.md §2.1. `state` holds the
  // rule's carried tensors (their shapes: rule_state_shapes) (traces, influence matrices, histories), updated in place. When
  // rec_grad (n, n + input_size + 1) is given, every step's recurrent update direction G_t
  // (mean over streams) is added to it: with lr = 0 that is the rule's gradient estimate.
  // rule_tensors are read-only per-step inputs of the rule (the noise draws of the stochastic
  // rules, (T, B, k)); `record`, for the rules that record (dni, dni_b), receives per-step
  // internal signals (T, B, k, n). l2 adds l2 W to the gradients of W_hh, W_ih and W_out (not the
  // biases), every step (docs/algorithms.md §2.1 4d). optimizer ("sgd": the papers' plain step; "momentum",
  // "adam", "adamw"; "none": compute the gradients into optimizer_state and leave the weights) is applied to
  // the network's and readout's weights after every step, its state in optimizer_state, optimizer_steps the
  // steps it took before this call (common/optimizer_args.h gives the layouts; docs/algorithms.md §2.7);
  // lr_schedule (seq_len,) gives each step its learning rate in place of lr. credit (seq_len, batch,
  // hidden_size), the credit mode (§2.8): q_t = dL_t/da_t from the caller's own readout and loss; the readout
  // arguments are then not evaluated or updated, and the losses returned are 0.
  m.def(
      "online_learn(str rule, Tensor x, Tensor y, Tensor(a!) hidden, Tensor(b!) weight_hh, "
      "Tensor(c!) weight_ih, Tensor(d!) bias, Tensor(e!) weight_out, Tensor(f!) bias_out, "
      "Tensor(g!)[] state, Tensor(h!)? rec_grad, Tensor? feedback, float alpha, str nonlinearity, "
      "str loss, float lr, float[] rule_options, Tensor[] rule_tensors, Tensor(i!)? record=None, float l2=0.0, "
      "str optimizer=\"sgd\", float[] optimizer_options=[], Tensor(j!)? optimizer_state=None, int optimizer_steps=0, "
      "Tensor? lr_schedule=None, Tensor? credit=None) -> Tensor");

  // online_learn of E networks ("members") of one rule, sizes, nonlinearity, loss and optimiser kind in one
  // call (docs/algorithms.md §2.10): online_learn's arguments with a leading member dimension on every
  // per-member tensor (hidden (E, B, n), the weights (E, n, n), (E, n, I), (E, n), (E, O, n), (E, O), each
  // state and rule tensor (E, ...), rec_grad, feedback, record, optimizer_state and credit (E, ...)), x and y
  // (seq_len, B, .) shared by the members or (seq_len, E, B, .) one each, lr_schedule (seq_len,) or (E,
  // seq_len); per-member scalars as lists: alpha (E values; E is its length), lr, l2 and optimizer_steps (E
  // values; l2 and optimizer_steps none for zeros), rule_options and optimizer_options (E k values, member
  // e's k after member e - 1's). Every member is checked before any runs; member e's results are bitwise
  // online_learn's on its views. Returns the losses (seq_len, E, B).
  m.def(
      "online_learn_members(str rule, Tensor x, Tensor y, Tensor(a!) hidden, Tensor(b!) weight_hh, "
      "Tensor(c!) weight_ih, Tensor(d!) bias, Tensor(e!) weight_out, Tensor(f!) bias_out, "
      "Tensor(g!)[] state, Tensor(h!)? rec_grad, Tensor? feedback, float[] alpha, str nonlinearity, "
      "str loss, float[] lr, float[] rule_options, Tensor[] rule_tensors, Tensor(i!)? record=None, float[] l2=[], "
      "str optimizer=\"sgd\", float[] optimizer_options=[], Tensor(j!)? optimizer_state=None, "
      "int[] optimizer_steps=[], Tensor? lr_schedule=None, Tensor? credit=None) -> Tensor");

  // One optimiser step of the network and readout weights from given gradients (grad: (n, n + input_size +
  // 1) of [W_hh | W_ih | b], grad_out: (output_size, n + 1) of [W_out | b_out]), step number
  // optimizer_steps + 1, with online_learn's optimiser arguments (optimizer "sgd" too, not "none"): what
  // online_learn applies after every step, for a caller that all-reduces the gradients between the two
  // (OnlineLearner's data-parallel form, docs/algorithms.md §2.7).
  m.def(
      "online_optimizer_step(Tensor(a!) weight_hh, Tensor(b!) weight_ih, Tensor(c!) bias, Tensor(d!) weight_out, "
      "Tensor(e!) bias_out, Tensor grad, Tensor grad_out, str optimizer, float lr, float[] optimizer_options, "
      "Tensor(f!)? optimizer_state, int optimizer_steps, float l2=0.0) -> ()");

  // Online RFLO (docs/algorithms.md §2.1 order): per step forward, readout z = W_out a + b_out,
  // loss, trace update, gradients, SGD update of all weights in place. Carries `hidden`
  // (B, n) and `trace` (B, n, n + input_size + 1) across calls. Returns per-step losses (T, B).
  // An alias of online_learn("rflo", ..., state=[trace], rule_options=[trace_alpha]).
  m.def(
      "rflo_online(Tensor x, Tensor y, Tensor(a!) hidden, Tensor(b!) trace, "
      "Tensor(c!) weight_hh, Tensor(d!) weight_ih, Tensor(e!) bias, Tensor(f!) weight_out, "
      "Tensor(g!) bias_out, Tensor? feedback, float alpha, float trace_alpha, str nonlinearity, "
      "str loss, float lr, float l2=0.0) -> Tensor");

  // The rules' descriptors (csrc/rules/), so Python checks a config when it is made: every rule's
  // name; a rule's option names, defaults (NaN: the network's alpha), accepted counts and forms;
  // rule_check raises the error an op would give for these options and form ("sequence" or
  // "online"); rule_state_shapes gives the online state's names and shapes (ranks[k] sizes each, in
  // order) for these sizes.
  m.def("rule_names() -> str[]", &torch_local_rnn::rule_names_op);
  m.def("rule_info(str rule) -> (str[] option_names, float[] option_defaults, int[] option_counts, "
        "bool sequence_form, bool online_form)", &torch_local_rnn::rule_info_op);
  m.def("rule_check(str rule, float[] rule_options, float alpha, str form) -> ()", &torch_local_rnn::rule_check_op);
  m.def("rule_state_shapes(str rule, float[] rule_options, float alpha, int batch, int hidden_size, int input_size, "
        "int output_size) -> (str[] names, int[] ranks, int[] sizes)", &torch_local_rnn::rule_state_shapes_op);

  // The counter-based noise of the stochastic rules (common/philox.h, docs/algorithms.md §2.5).
  // noise_from_counter fills `out` (contiguous float32 / float64) with the draws offset + 0 .. offset +
  // numel - 1 of `kind` ("discrete", "gaussian", "uniform") under `seed`: nu_i = draw(kind, seed, offset + i),
  // the same values on every backend. noise_reserve reserves `count` draws: under a lock it reads the
  // int64 scalar `offset`, advances it in place by count and returns the noise counter
  // int64 [seed, offset before, kind code], which the stochastic rules read as rule_tensors[0] in place of
  // the noise (they draw nu (T, B, width) from it, index (t B + b) width + k), so concurrent callers of one
  // offset draw disjoint noise.
  m.def("noise_from_counter(Tensor(a!) out, str kind, int seed, int offset) -> ()");
  m.def("noise_reserve(Tensor seed, Tensor(a!) offset, SymInt count, str kind) -> Tensor");

  // How many online_learn_members calls took the CPU's member-lane fast path (cpu/members_simd_cpu.cpp,
  // docs/algorithms.md §2.10) since the library was loaded: the tests' evidence that the path is taken.
  m.def("members_simd_calls() -> int", &torch_local_rnn::members_simd_calls_op);
  // Which copy of the CPU online step a float32 online_learn call made now runs: "avx2" or "baseline" (SSE2),
  // or "baseline-only" where the build has no AVX2 copy (cpu/online_step_cpu.h, docs/design.md §1.6); both
  // copies round identically, and float64 always runs the baseline copy.
  m.def("online_step_isa() -> str", &torch_local_rnn::online_step_isa_op);

  // -1 for a CPU-only build, else the CUDA version the library was compiled with (e.g. 13000).
  m.def("cuda_version() -> int", &torch_local_rnn::cuda_version_impl);
}
