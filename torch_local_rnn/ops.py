"""Typed wrappers over the registered ops (torch.ops.torch_local_rnn.*): every call of the package into the
library goes through them. Each wrapper calls ``torch.ops.torch_local_rnn.<op>`` literally (TorchScript
compiles it) and has its fake kernel right below it, for torch.compile, torch.export and meta tensors. A fake
takes every argument of the schema and checks what the kernel checks without data (ranks, sizes, dtypes,
devices, contiguity of what is written in place, the scalars, the rule, its options and state) with the kernel's
error: a RuntimeError naming the op and the argument (the messages of csrc/common/checks.h). The rule registry
ops (rule_names, rule_info, rule_check, rule_state_shapes) take no tensors: they run under FakeTensorMode as
they are, and the fakes use them for everything about the rules.

Notation (algorithms.md §1): a_t = (1 - alpha) a_{t-1} + alpha phi(W_hh a_{t-1} + W_ih x_t + b), x (T, B, I)."""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ._optimizer_ops import (OPTIMIZER_OPTIONS, OPTIMIZER_SLOTS, _check_optimizer,  # noqa: F401
                             online_optimizer_step, optimizer_state_numel)
from ._checks import (_check_choice, _check_contiguous, _check_rate, _check_shape, _check_square, _check_tensor,
                      _check_x, COUNTERS, RECORDING_RULES, _check_like, _check_rule_tensors, _fail, _hint,
                      _register_fake, _shape_str, counter_error)
from ._member_checks import member_calls, renamed
from ._noise_ops import NOISE_KINDS, noise_counter, noise_from_counter, noise_reserve  # noqa: F401

NONLINEARITIES = ("tanh", "relu", "sigmoid")
LOSSES = ("cross_entropy", "mse", "mse_mean")
Grads = Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]  # (grad_x, grad_h0, grad_weight_hh, grad_weight_ih, grad_bias)


# ============================================================================= the rule registry
@dataclass(frozen=True)
class RuleInfo:
    """rule_info: the options, their defaults (NaN: the network's alpha, e.g. RFLO's trace_alpha), the accepted
    lengths of rule_options (prefixes of option_names), the forms (leaky_rnn*: sequence; online_learn: online)."""

    name: str
    option_names: Tuple[str, ...]
    option_defaults: Tuple[float, ...]
    option_counts: Tuple[int, ...]
    sequence_form: bool
    online_form: bool


def rule_names() -> List[str]:
    """Every rule the library registers, sorted."""
    return list(torch.ops.torch_local_rnn.rule_names())


def rule_info(rule: str) -> RuleInfo:
    """The options and forms of ``rule`` (RuntimeError for an unknown one)."""
    names, defaults, counts, sequence_form, online_form = torch.ops.torch_local_rnn.rule_info(rule)
    return RuleInfo(rule, tuple(names), tuple(float(v) for v in defaults), tuple(int(c) for c in counts),
                    bool(sequence_form), bool(online_form))


def check_rule(rule: str, options: Optional[Sequence[float]] = None, alpha: float = 1.0,
               form: str = "sequence") -> None:
    """The library's RuntimeError if ``rule`` is unknown, lacks ``form`` ("sequence", "online") or an option is bad."""
    torch.ops.torch_local_rnn.rule_check(rule, [float(v) for v in (options or [])], float(alpha), form)


def rule_state_shapes(rule: str, options: Optional[Sequence[float]], alpha: float, batch: int, hidden_size: int,
                      input_size: int, output_size: int) -> Dict[str, Tuple[int, ...]]:
    """The tensors the online form of ``rule`` carries (online_learn's ``state``), in order: name -> shape."""
    names, ranks, sizes = torch.ops.torch_local_rnn.rule_state_shapes(
        rule, [float(v) for v in (options or [])], float(alpha), int(batch), int(hidden_size), int(input_size),
        int(output_size))
    ends = [sum(ranks[:k + 1]) for k in range(len(ranks))]
    return {name: tuple(int(s) for s in sizes[end - rank:end]) for name, rank, end in zip(names, ranks, ends)}


def cuda_version() -> int:
    """-1 for a CPU-only build, else the CUDA version the library was compiled with (e.g. 13000)."""
    return int(torch.ops.torch_local_rnn.cuda_version())


# ============================================================================= the checks of the fakes
# Python twins of csrc/common/checks.h and online_checks.h, with the same messages (their primitives, which call
# no op, and what the kernels read beyond the registry are in _checks.py). Doubles print as C++'s ostream prints
# them ({:g}: 1.5, 1e-05, inf, nan), dtypes by their C++ names.
def _check_network_args(op: str, x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor, alpha: float,
                        bias: Optional[Tensor] = None, nonlinearity: Optional[str] = None):
    """check_network_args (and, when given, check_bias and the nonlinearity); returns (T, B, n, I)."""
    T, B, I = _check_x(x, op)
    n = _check_square(weight_hh, x, op, online=False)
    _check_tensor(op, weight_ih, x, (n, I), "weight_ih", "(hidden_size, input_size)")
    _check_tensor(op, h0, x, (B, n), "h0", "(batch, hidden_size)")
    _check_rate(alpha, op, "alpha")
    if bias is not None:
        _check_tensor(op, bias, x, (n,), "bias", "(hidden_size,)")
    if nonlinearity is not None:
        _check_choice(nonlinearity, NONLINEARITIES, op, "nonlinearity")
    return T, B, n, I


def _backward_fake(op: str, grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha, trace_alpha=None):
    """check_backward_args (and RFLO's trace_alpha); the gradients, new contiguous tensors like the kernels'."""
    T, B, n, I = _check_network_args(op, x, h0, weight_hh, weight_ih, alpha)
    for t, name in ((grad_output, "grad_output"), (output, "output"), (dphi, "dphi")):
        _check_tensor(op, t, x, (T, B, n), name, "(seq_len, batch, hidden_size)")
    if trace_alpha is not None:  # leaky_rnn_rflo_backward: leaky_rnn_rule_backward with rule "rflo"
        _check_rate(trace_alpha, op, "trace_alpha")
        _check_rule(op, "rflo", [trace_alpha], alpha, "sequence")
    return x.new_empty((T, B, I)), x.new_empty((B, n)), x.new_empty((n, n)), x.new_empty((n, I)), x.new_empty((n,))


def _check_online_args(op: str, x: Tensor, y: Tensor, hidden: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                       bias: Tensor, weight_out: Tensor, bias_out: Tensor, feedback: Optional[Tensor], alpha: float,
                       nonlinearity: str, loss: str, lr: float, l2: float):
    """check_online_args, in its order; returns (T, B, n, I, O)."""
    T, B, I = _check_x(x, op)
    _check_choice(nonlinearity, NONLINEARITIES, op, "nonlinearity")
    _check_choice(loss, LOSSES, op, "loss")
    _check_tensor(op, y, x, (T, B, -1), "y", "(seq_len, batch, output_size)")
    O = y.shape[2]
    if O <= 0:
        _fail(op, f"expected y to have output_size > 0, but got shape {_shape_str(y.shape)}")
    n = _check_square(weight_hh, x, op, online=True)
    for t, shape, name, layout in ((weight_hh, (n, n), "weight_hh", "(hidden_size, hidden_size)"),
                                   (weight_ih, (n, I), "weight_ih", "(hidden_size, input_size)"),
                                   (bias, (n,), "bias", "(hidden_size,)"),
                                   (weight_out, (O, n), "weight_out", "(output_size, hidden_size)"),
                                   (bias_out, (O,), "bias_out", "(output_size,)"),
                                   (hidden, (B, n), "hidden", "(batch, hidden_size)")):
        _check_tensor(op, t, x, shape, name, layout, inplace=True)
    if feedback is not None:
        _check_tensor(op, feedback, x, (O, n), "feedback", "(output_size, hidden_size)")
    _check_rate(alpha, op, "alpha")
    _check_rate(lr, op, "lr", rate=False)
    _check_rate(l2, op, "l2", rate=False)
    return T, B, n, I, O


def _check_rule(op: str, rule: str, rule_options: Sequence[float], alpha: float, form: str) -> None:
    """rule_check (the rule, its form, its options), its error re-worded to name ``op``."""
    try:
        torch.ops.torch_local_rnn.rule_check(rule, [float(v) for v in rule_options], float(alpha), form)
    except RuntimeError as e:  # "rule_check: ..." -> "online_learn: ..."
        head, sep, tail = str(e).partition(": ")
        raise RuntimeError(f"{op}: {tail}" if sep and head != op and " " not in head else str(e)) from None


def _check_rule_state(op: str, rule: str, options, alpha: float, state: Sequence[Tensor], x: Tensor, sizes) -> None:
    """The online state against rule_state_shapes(sizes = (B, n, I, O)): count, then each tensor's dtype and
    device (x's), shape (compared on the sizes' hints) and contiguity (check_rule_state)."""
    shapes = rule_state_shapes(rule, options, alpha, *(_hint(v) for v in sizes))
    if len(state) != len(shapes):
        layout = ", ".join(f"{k} {_shape_str(s)}" for k, s in shapes.items())
        _fail(op, f"rule '{rule}' expects state = [{layout}], but got {len(state)} tensors")
    for k, (t, (key, want)) in enumerate(zip(state, shapes.items())):
        name = f"state[{k}] ({rule} {key})"
        _check_like(t, x, op, name)
        if tuple(_hint(s) for s in t.shape) != want:
            _fail(op, f"expected {name} of shape {_shape_str(want)}, but got {_shape_str(t.shape)}")
        _check_contiguous(t, op, name)


def _check_counter_range(op: str, rule: str, rule_options: Sequence[float], x: Tensor) -> None:
    """check_counter_range: float32 holds the integers only up to 2^24 (the counters of _checks.COUNTERS)."""
    if x.dtype == torch.float32 and rule in COUNTERS:
        info = rule_info(rule)
        message = counter_error(rule, rule_options, info.option_names, info.option_defaults)
        if message:
            _fail(op, message)


# ============================================================================= the ops
def _refuse_functorch(op: str) -> None:
    """One clear error in place of functorch's own (which names neither the op nor a way out)."""
    if torch._C._are_functorch_transforms_active():
        raise RuntimeError(
            f"{op}: torch.func transforms (grad, vjp, jacrev, jacfwd, vmap, ...) are not supported: the rule's "
            "backward is a C++ autograd function, which functorch cannot transform. Use torch.autograd instead "
            "(loss.backward() or torch.autograd.grad), and a loop (or the batch dimension) in place of vmap.")


def leaky_rnn(x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor, bias: Tensor, alpha: float = 1.0,
              nonlinearity: str = "tanh", rule: str = "bptt", rule_options: Optional[List[float]] = None,
              rule_tensors: Optional[List[Tensor]] = None) -> Tensor:
    """States a_1..a_T, Tensor[T, B, n]. Differentiable: the backward is the rule's estimate (the exact gradient
    for "bptt"; rule_options and rule_tensors as in leaky_rnn_rule_backward). LocalRNN.forward (scripted too)."""
    if not torch.jit.is_scripting():
        if not torch.compiler.is_compiling():
            _refuse_functorch("leaky_rnn")
    options: List[float] = [] if rule_options is None else list(rule_options)
    tensors: List[Tensor] = [] if rule_tensors is None else list(rule_tensors)
    return torch.ops.torch_local_rnn.leaky_rnn(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity, rule,
                                               options, tensors)


@_register_fake("leaky_rnn")
def _leaky_rnn_fake(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity, rule, rule_options, rule_tensors):
    # the Autograd kernel checks the rule first (rule_check: parse_rule_options), then runs leaky_rnn_forward
    if x.dtype in (torch.float16, torch.bfloat16):  # float32 inside, the output in x's dtype (algorithms.md §1.3)
        wide = [t.float() if t.is_floating_point() else t for t in rule_tensors]
        return _leaky_rnn_fake(x.float(), h0.float(), weight_hh.float(), weight_ih.float(), bias.float(), alpha,
                               nonlinearity, rule, rule_options, wide).to(x.dtype)
    _check_rule("leaky_rnn", rule, rule_options, alpha, "sequence")
    T, B, n, _ = _check_network_args("leaky_rnn", x, h0, weight_hh, weight_ih, alpha, bias, nonlinearity)
    for k, t in enumerate(rule_tensors):  # leaky_rnn reads them at backward (leaky_rnn_rule_backward checks them)
        if k > 0 or t.dtype != torch.int64 or rule not in ("uoro", "kf_rtrl", "rkf_rtrl"):  # not a noise counter
            _check_like(t, x, "leaky_rnn", f"rule_tensors[{k}]")
    return x.new_empty((T, B, n))


def leaky_rnn_forward(x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor, bias: Tensor,
                      alpha: float = 1.0, nonlinearity: str = "tanh") -> Tuple[Tensor, Tensor]:
    """(output, dphi): states a_1..a_T and phi'(h_t), both Tensor[T, B, n]; not differentiable."""
    return torch.ops.torch_local_rnn.leaky_rnn_forward(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity)


@_register_fake("leaky_rnn_forward")
def _leaky_rnn_forward_fake(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity):
    T, B, n, _ = _check_network_args("leaky_rnn_forward", x, h0, weight_hh, weight_ih, alpha, bias, nonlinearity)
    return x.new_empty((T, B, n)), x.new_empty((T, B, n))


def leaky_rnn_bptt_backward(grad_output: Tensor, x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                            output: Tensor, dphi: Tensor, alpha: float = 1.0) -> Grads:
    """Exact BPTT given grad_output = dL/da_t (T, B, n): leaky_rnn_rule_backward with rule "bptt"."""
    return torch.ops.torch_local_rnn.leaky_rnn_bptt_backward(grad_output, x, h0, weight_hh, weight_ih, output, dphi,
                                                             alpha)


@_register_fake("leaky_rnn_bptt_backward")
def _leaky_rnn_bptt_backward_fake(grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha):
    return _backward_fake("leaky_rnn_bptt_backward", grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha)


def leaky_rnn_rflo_backward(grad_output: Tensor, x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                            output: Tensor, dphi: Tensor, alpha: float = 1.0,
                            trace_alpha: Optional[float] = None) -> Grads:
    """RFLO's estimate over the window (weights frozen, trace from 0; trace_alpha None: alpha), GEMM form:
    leaky_rnn_rule_backward with rule "rflo". grad_x and grad_h0 are the one-step gradients."""
    rate: float = alpha if trace_alpha is None else trace_alpha
    return torch.ops.torch_local_rnn.leaky_rnn_rflo_backward(grad_output, x, h0, weight_hh, weight_ih, output, dphi,
                                                             alpha, rate)


@_register_fake("leaky_rnn_rflo_backward")
def _leaky_rnn_rflo_backward_fake(grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha, trace_alpha):
    return _backward_fake("leaky_rnn_rflo_backward", grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha,
                          trace_alpha)


def leaky_rnn_rule_backward(grad_output: Tensor, x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                            output: Tensor, dphi: Tensor, alpha: float, rule: str,
                            rule_options: Optional[List[float]] = None,
                            rule_tensors: Optional[List[Tensor]] = None) -> Grads:
    """Sequence form of any rule with one, given dL/da_t (weights frozen, traces from zero); rule_info(rule) lists
    its rule_options. rule_tensors: uoro / rkf_rtrl [nu (T, B, n)], kf_rtrl [nu (T, B, 2)] (or [noise_counter(...)]:
    nu drawn in the op, §2.5), kernl [A (n, n), rates (n)], the others []. grad_x, grad_h0: one-step gradients."""
    options: List[float] = [] if rule_options is None else list(rule_options)
    tensors: List[Tensor] = [] if rule_tensors is None else list(rule_tensors)
    return torch.ops.torch_local_rnn.leaky_rnn_rule_backward(grad_output, x, h0, weight_hh, weight_ih, output, dphi,
                                                             alpha, rule, options, tensors)


@_register_fake("leaky_rnn_rule_backward")
def _leaky_rnn_rule_backward_fake(grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha, rule, rule_options,
                                  rule_tensors):
    op = "leaky_rnn_rule_backward"
    grads = _backward_fake(op, grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha)
    _check_rule(op, rule, rule_options, alpha, "sequence")
    _check_rule_tensors(op, rule, "sequence", rule_tensors, x, x.shape[0], x.shape[1], weight_hh.shape[0])
    return grads


def online_learn(rule: str, x: Tensor, y: Tensor, hidden: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                 bias: Tensor, weight_out: Tensor, bias_out: Tensor, state: List[Tensor],
                 rec_grad: Optional[Tensor] = None, feedback: Optional[Tensor] = None, alpha: float = 1.0,
                 nonlinearity: str = "tanh", loss: str = "cross_entropy", lr: float = 1e-4,
                 rule_options: Optional[List[float]] = None, rule_tensors: Optional[List[Tensor]] = None,
                 record: Optional[Tensor] = None, l2: float = 0.0, optimizer: str = "sgd",
                 optimizer_options: Optional[List[float]] = None, optimizer_state: Optional[Tensor] = None,
                 optimizer_steps: int = 0, lr_schedule: Optional[Tensor] = None,
                 credit: Optional[Tensor] = None) -> Tensor:
    """T online steps of ``rule`` (algorithms.md §2.1) updating hidden, the weights and ``state`` (the rule's
    carried tensors: rules.<Rule>.online_state, shapes rule_state_shapes) in place. rec_grad (n, n + I + 1)
    accumulates every step's update direction G_t (mean over streams; lr = 0: the rule's gradient estimate).
    rule_tensors: the per-step noise (rules.<Rule>.noise), for dni / dni_b optionally [credit (T, B, n)].
    record (T, B, 4, n), dni / dni_b: U_t, U*_{t-1}, U_{t-1}, V_t = h_t per step. l2: l2 W added to the
    gradients of W_hh, W_ih, W_out every step (AdamW: decoupled). optimizer (§2.7): "sgd" (the papers'),
    "momentum", "adam", "adamw", or "none" (the last step's gradients into optimizer_state, weights kept), with
    optimizer_options (OPTIMIZER_OPTIONS), its flat state optimizer_state (optimizer_state_numel values) and
    optimizer_steps taken before; lr_schedule (T,): each step's learning rate in place of lr. credit (T, B, n):
    the credit mode (§2.8), q_t = dL_t/da_t given by a caller with its own readout and loss (the readout
    arguments are neither evaluated nor updated; the losses returned are 0). Returns the losses, Tensor[T, B]."""
    options: List[float] = [] if rule_options is None else list(rule_options)
    tensors: List[Tensor] = [] if rule_tensors is None else list(rule_tensors)
    opt_options: List[float] = [] if optimizer_options is None else [float(v) for v in optimizer_options]
    return torch.ops.torch_local_rnn.online_learn(rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out,
                                                  bias_out, list(state), rec_grad, feedback, alpha, nonlinearity,
                                                  loss, lr, options, tensors, record, l2, optimizer, opt_options,
                                                  optimizer_state, int(optimizer_steps), lr_schedule, credit)


@_register_fake("online_learn")
def _online_learn_fake(rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad,
                       feedback, alpha, nonlinearity, loss, lr, rule_options, rule_tensors, record=None, l2=0.0,
                       optimizer="sgd", optimizer_options=(), optimizer_state=None, optimizer_steps=0,
                       lr_schedule=None, credit=None):
    op = "online_learn"
    T, B, n, I, O = _check_online_args(op, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback,
                                       alpha, nonlinearity, loss, lr, l2)
    _check_rule(op, rule, rule_options, alpha, "online")
    if record is not None and rule not in RECORDING_RULES:
        _fail(op, f"only rules 'dni' and 'dni_b' record per-step signals, but got record for rule '{rule}'")
    _check_rule_state(op, rule, rule_options, alpha, state, x, (B, n, I, O))
    _check_counter_range(op, rule, rule_options, x)
    if rec_grad is not None:
        _check_tensor(op, rec_grad, x, (n, n + I + 1), "rec_grad", "(hidden_size, hidden_size + input_size + 1)", True)
    _check_rule_tensors(op, rule, "online", rule_tensors, x, T, B, n)
    if record is not None:
        _check_tensor(op, record, x, (T, B, 4, n), "record", "(seq_len, batch, 4, hidden_size)", inplace=True)
    _check_optimizer(op, optimizer, optimizer_options, optimizer_state, optimizer_steps, x, (n, I, O))
    if lr_schedule is not None:
        _check_tensor(op, lr_schedule, x, (T,), "lr_schedule", "(seq_len,)")
    if credit is not None:
        _check_tensor(op, credit, x, (T, B, n), "credit", "(seq_len, batch, hidden_size)")
    return x.new_empty((T, B))


def online_learn_members(rule: str, x: Tensor, y: Tensor, hidden: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                         bias: Tensor, weight_out: Tensor, bias_out: Tensor, state: List[Tensor],
                         rec_grad: Optional[Tensor], feedback: Optional[Tensor], alpha: List[float], nonlinearity: str,
                         loss: str, lr: List[float], rule_options: List[float], rule_tensors: List[Tensor],
                         record: Optional[Tensor] = None, l2: Optional[List[float]] = None, optimizer: str = "sgd",
                         optimizer_options: Optional[List[float]] = None, optimizer_state: Optional[Tensor] = None,
                         optimizer_steps: Optional[List[int]] = None, lr_schedule: Optional[Tensor] = None,
                         credit: Optional[Tensor] = None) -> Tensor:
    """online_learn of E members in one call (algorithms.md §2.10): per-member tensors stacked on a leading member
    dim, x and y shared (T, B, .) or (T, E, B, .), lr_schedule (T,) or (E, T); alpha, lr, l2, optimizer_steps: E
    values (l2, optimizer_steps None: zeros); rule_options, optimizer_options: E k values, member-major. Member
    e's results are bitwise online_learn's on its views. Returns the losses, Tensor[T, E, B]."""
    return torch.ops.torch_local_rnn.online_learn_members(
        rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, list(state), rec_grad, feedback,
        [float(v) for v in alpha], nonlinearity, loss, [float(v) for v in lr], [float(v) for v in rule_options],
        list(rule_tensors), record, [] if l2 is None else [float(v) for v in l2], optimizer,
        [] if optimizer_options is None else [float(v) for v in optimizer_options], optimizer_state,
        [] if optimizer_steps is None else [int(v) for v in optimizer_steps], lr_schedule, credit)


@_register_fake("online_learn_members")
def _online_learn_members_fake(rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad,
                               feedback, alpha, nonlinearity, loss, lr, rule_options, rule_tensors, record=None,
                               l2=(), optimizer="sgd", optimizer_options=(), optimizer_state=None, optimizer_steps=(),
                               lr_schedule=None, credit=None):
    calls = member_calls(dict(locals()))  # the stacking, then every member as online_learn checks it
    for label, call in calls:
        with renamed("online_learn", label):
            losses = _online_learn_fake(**call)
    return x.new_empty((losses.shape[0], len(calls), losses.shape[1]))


def members_simd_calls() -> int:
    """How many online_learn_members calls took the CPU's member-lane fast path (RFLO / e-prop, batch 1, sgd,
    tanh; algorithms.md §2.10) since the library was loaded; TLR_MEMBERS_SIMD=0 in the environment turns the path
    off."""
    return int(torch.ops.torch_local_rnn.members_simd_calls())


def online_step_isa() -> str:
    """Which copy of the CPU's online step a float32 call made now runs: "avx2" (on a CPU with AVX2) or "baseline"
    (SSE2; also with TLR_CPU_STEP=baseline in the environment), or "baseline-only" when the library was built
    without the AVX2 copy (not x86-64, the phase-order check build, or TLR_CPU_AVX2_STEP=OFF). Both copies round identically; float64
    runs the baseline copy (docs/design.md §1.6)."""
    return str(torch.ops.torch_local_rnn.online_step_isa())


def rflo_online(x: Tensor, y: Tensor, hidden: Tensor, trace: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                bias: Tensor, weight_out: Tensor, bias_out: Tensor, feedback: Optional[Tensor] = None,
                alpha: float = 1.0, trace_alpha: Optional[float] = None, nonlinearity: str = "tanh",
                loss: str = "cross_entropy", lr: float = 1e-4, l2: float = 0.0) -> Tensor:
    """T online RFLO steps (algorithms.md §2.1, §3.6): online_learn with rule "rflo" and state [trace
    (B, n, n + I + 1)]. y: Tensor[T, B, O] (probabilities for cross_entropy). Returns the losses, Tensor[T, B]."""
    rate: float = alpha if trace_alpha is None else trace_alpha
    return torch.ops.torch_local_rnn.rflo_online(x, y, hidden, trace, weight_hh, weight_ih, bias, weight_out,
                                                 bias_out, feedback, alpha, rate, nonlinearity, loss, lr, l2)


@_register_fake("rflo_online")
def _rflo_online_fake(x, y, hidden, trace, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                      trace_alpha, nonlinearity, loss, lr, l2=0.0):
    op = "rflo_online"  # online_learn with rule "rflo", state [trace], rule_options [trace_alpha]
    T, B, n, I, O = _check_online_args(op, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback,
                                       alpha, nonlinearity, loss, lr, l2)
    _check_rate(trace_alpha, op, "trace_alpha")
    _check_tensor(op, trace, x, (B, n, n + I + 1), "trace", "(batch, hidden_size, hidden_size + input_size + 1)",
                  inplace=True)
    return x.new_empty((T, B))
