"""torch.library.opcheck of every op, torch.compile of the generic ops for every rule, and the fake kernels of
torch_local_rnn/ops.py against the real kernels (docs/design.md §2.1).

* opcheck (schema and mutation annotations, autograd registration, fake kernel, AOT dispatch with dynamic
  shapes) of every op; leaky_rnn and leaky_rnn_rule_backward for every rule with a sequence form,
  online_learn for every rule with an online form (its carried state from rules.<Rule>.online_state), with
  l2 > 0, rec_grad and (dni, dni_b) record.
* torch.compile(fullgraph=True) with backend "eager" and "aot_eager" of a function calling
  leaky_rnn_rule_backward / online_learn for every rule: the same results as the eager call (float64).
* The fakes on meta tensors reject what the kernels reject, with the kernels' message.

Tiny sizes (T=3, B=2, n=3, I=2, O=2): this file is part of the fast tier.
"""
import os
import re

import pytest
import torch

from helpers import DT, ROOT, generator, network, randn, soft_targets
from torch_local_rnn import LocalRNN, ops, rules

OPS = torch.ops.torch_local_rnn
T, B, N, I, O = 3, 2, 3, 2, 2
ALPHA, LR, L2 = 0.5, 0.1, 0.01
UTILS = ("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")
script_ok = pytest.mark.filterwarnings("ignore:`torch.jit.script.*` is deprecated:DeprecationWarning")

# Every rule with a sequence form (leaky_rnn, leaky_rnn_rule_backward) and with an online form (online_learn),
# with small valid options.
SEQUENCE_RULES = {"bptt": rules.BPTT(), "rflo": rules.RFLO(trace_alpha=0.3), "eprop": rules.EProp(),
                  "output_only": rules.OutputOnly(), "rtrl": rules.RTRL(), "f_bptt": rules.FBPTT(truncation=2),
                  "e_bptt": rules.EBPTT(window=2), "uoro": rules.UORO(), "kf_rtrl": rules.KFRTRL(),
                  "rkf_rtrl": rules.RKFRTRL(), "kernl": rules.KeRNL()}
ONLINE_RULES = {"output_only": rules.OutputOnly(), "rtrl": rules.RTRL(), "f_bptt": rules.FBPTT(truncation=2),
                "e_bptt": rules.EBPTT(window=2), "uoro": rules.UORO(), "kf_rtrl": rules.KFRTRL(),
                "rkf_rtrl": rules.RKFRTRL(), "rflo": rules.RFLO(trace_alpha=0.3), "eprop": rules.EProp(),
                "kernl": rules.KeRNL(reset_interval=4), "dni": rules.DNI(), "dni_b": rules.DNIb()}


# ----------------------------------------------------------------------------- inputs
def net(seed=0):
    """x, h0, W_hh, W_ih, b, grad_output."""
    W, U, b = network(N, I, seed)
    g = generator(seed + 1)
    return randn(T, B, I, gen=g), randn(B, N, gen=g, scale=0.5), W, U, b, randn(T, B, N, gen=g)


def sequence_options(name):
    return [] if name == "eprop" else SEQUENCE_RULES[name].sequence_options(ALPHA)  # eprop: the trace rate is alpha


def sequence_tensors(name, seed=0):
    rule = SEQUENCE_RULES[name]
    if name == "kernl":
        return list(rule.sequence_tensors(N, generator=generator(seed + 2), dtype=DT).values())
    return rule.noise(T, B, N, generator(seed + 2), dtype=DT)


def rule_backward_args(name, seed=0):
    x, h0, W, U, b, grad = net(seed)
    out, dphi = ops.leaky_rnn_forward(x, h0, W, U, b, ALPHA, "tanh")
    return (grad, x, h0, W, U, out, dphi, ALPHA, name, sequence_options(name), sequence_tensors(name, seed))


def online_args(name, seed=0, feedback=False, record=True):
    """Fresh arguments of online_learn (the op writes hidden, the weights, state, rec_grad and record)."""
    rule = ONLINE_RULES[name]
    x, h0, W, U, b, _ = net(seed)
    g = generator(seed + 3)
    y = soft_targets(T, B, O, g)
    W_out, b_out = randn(O, N, gen=g, scale=N ** -0.5), randn(O, gen=g, scale=0.1)
    state = list(rule.online_state(B, N, I, outputs=O, generator=g, weight_hh=W, dtype=DT).values())
    if name.startswith("dni"):
        state[4].copy_(y[0])  # label_prev := y_0, as OnlineLearner does
    options = [] if name == "eprop" else rule.online_options(ALPHA)
    noise = rule.noise(T, B, N, g, dtype=DT)
    fb = randn(O, N, gen=g) if feedback else None
    rec = torch.zeros(T, B, 4, N, dtype=DT) if record and name.startswith("dni") else None
    return (name, x, y, h0.clone(), W.clone(), U.clone(), b.clone(), W_out, b_out, state,
            torch.zeros(N, N + I + 1, dtype=DT), fb, ALPHA, "tanh", "cross_entropy", LR, options, noise, rec, L2)


def rflo_online_args(seed=0):
    x, h0, W, U, b, _ = net(seed)
    g = generator(seed + 3)
    return (x, soft_targets(T, B, O, g), h0.clone(), torch.zeros(B, N, N + I + 1, dtype=DT), W.clone(), U.clone(),
            b.clone(), randn(O, N, gen=g), randn(O, gen=g), None, ALPHA, 0.3, "tanh", "mse", LR, L2)


def assert_close(got, want, what=""):
    """float64: equal, or within 1e-12 relative to the largest entry."""
    assert got.shape == want.shape and got.dtype == want.dtype, what
    scale = max(1.0, want.abs().max().item()) if want.numel() else 1.0
    err = (got - want).abs().max().item() if want.numel() else 0.0
    assert err <= 1e-12 * scale, f"{what}: max abs error {err:.3e}"


# ----------------------------------------------------------------------------- opcheck
@pytest.mark.parametrize("util", UTILS)
@pytest.mark.parametrize("name", list(SEQUENCE_RULES))
def test_opcheck_rule_backward(name, util):
    torch.library.opcheck(OPS.leaky_rnn_rule_backward.default, rule_backward_args(name), test_utils=util)


@pytest.mark.parametrize("util", UTILS)
@pytest.mark.parametrize("name", list(ONLINE_RULES))
def test_opcheck_online_learn(name, util):
    torch.library.opcheck(OPS.online_learn.default, online_args(name), test_utils=util)


@pytest.mark.parametrize("util", UTILS)
@pytest.mark.parametrize("name", list(SEQUENCE_RULES))
def test_opcheck_leaky_rnn(name, util):
    x, h0, W, U, b, _ = net()
    leaves = [t.clone().requires_grad_(True) for t in (x, h0, W, U, b)]
    torch.library.opcheck(OPS.leaky_rnn.default, (*leaves, ALPHA, "tanh", name, sequence_options(name),
                                                  sequence_tensors(name)), test_utils=util)


@pytest.mark.parametrize("util", UTILS)
def test_opcheck_online_learn_feedback_no_record(util):
    """feedback given, rec_grad and record omitted (None), mse loss."""
    args = list(online_args("rtrl", feedback=True, record=False))
    args[10], args[14] = None, "mse"
    torch.library.opcheck(OPS.online_learn.default, tuple(args), test_utils=util)


@pytest.mark.parametrize("util", UTILS)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid"])
def test_opcheck_leaky_rnn_forward(nonlinearity, util):
    x, h0, W, U, b, _ = net()
    torch.library.opcheck(OPS.leaky_rnn_forward.default, (x, h0, W, U, b, ALPHA, nonlinearity), test_utils=util)


@pytest.mark.parametrize("util", UTILS)
@pytest.mark.parametrize("which", ["bptt", "rflo"])
def test_opcheck_bptt_rflo_backward(which, util):
    grad, x, h0, W, U, out, dphi, alpha = rule_backward_args("bptt")[:8]
    if which == "bptt":
        torch.library.opcheck(OPS.leaky_rnn_bptt_backward.default, (grad, x, h0, W, U, out, dphi, alpha),
                              test_utils=util)
    else:
        torch.library.opcheck(OPS.leaky_rnn_rflo_backward.default, (grad, x, h0, W, U, out, dphi, alpha, 0.3),
                              test_utils=util)


@pytest.mark.parametrize("util", UTILS)
def test_opcheck_rflo_online(util):
    torch.library.opcheck(OPS.rflo_online.default, rflo_online_args(), test_utils=util)


# The ops without tensors. The registry ops return strings, which opcheck's AOT test cannot compare (a limit of the
# test utility, not of the ops).
@pytest.mark.parametrize("op,args,utils", [
    ("rule_names", (), UTILS[:3]),
    ("rule_info", ("f_bptt",), UTILS[:3]),
    ("rule_check", ("f_bptt", [2.0], ALPHA, "online"), UTILS),
    ("rule_state_shapes", ("f_bptt", [2.0], ALPHA, B, N, I, O), UTILS[:3]),
    ("cuda_version", (), UTILS),
    ("members_simd_calls", (), UTILS),
    ("online_step_isa", (), UTILS[:3]),
])
def test_opcheck_registry_ops(op, args, utils):
    torch.library.opcheck(getattr(OPS, op).default, args, test_utils=utils)


# Every argument an op writes bumps its version counter (autograd then rejects a backward through a tensor the
# op changed), and the non-differentiable ops return outputs without grad_fn (csrc/autograd/no_grad_ops.cpp).
# opcheck (torch 2.13) checks neither, so they are checked here.
@pytest.mark.parametrize("op", ["online_learn", "rflo_online"])
def test_mutated_arguments_bump_their_version_counter(op):
    if op == "online_learn":
        args = online_args("dni")
        written = [args[3], *args[4:9], *args[9], args[10], args[18]]
        call = ops.online_learn
    else:
        args = rflo_online_args()
        written, call = list(args[2:9]), ops.rflo_online
    before = [t._version for t in written]
    call(*args)
    unbumped = [k for k, (t, v) in enumerate(zip(written, before)) if t._version == v]
    assert not unbumped, f"{op}: written arguments {unbumped} kept their version counter"


@pytest.mark.parametrize("op", ["leaky_rnn_forward", "leaky_rnn_bptt_backward", "leaky_rnn_rflo_backward",
                                "leaky_rnn_rule_backward"])
def test_non_differentiable_ops_return_no_grad_fn(op):
    grad, x, h0, W, U, out, dphi, alpha, rule, options, tensors = rule_backward_args("rtrl")
    x, h0, W, U = (t.clone().requires_grad_(True) for t in (x, h0, W, U))
    if op == "leaky_rnn_forward":
        results = ops.leaky_rnn_forward(x, h0, W, U, torch.zeros(N, dtype=DT), alpha)
    elif op == "leaky_rnn_bptt_backward":
        results = ops.leaky_rnn_bptt_backward(grad, x, h0, W, U, out, dphi, alpha)
    elif op == "leaky_rnn_rflo_backward":
        results = ops.leaky_rnn_rflo_backward(grad, x, h0, W, U, out, dphi, alpha, 0.3)
    else:
        results = ops.leaky_rnn_rule_backward(grad, x, h0, W, U, out, dphi, alpha, rule, options, tensors)
    assert all(r.grad_fn is None and not r.requires_grad for r in results)


# ----------------------------------------------------------------------------- torch.compile
@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
@pytest.mark.parametrize("name", list(SEQUENCE_RULES))
def test_compile_rule_backward(name, backend):
    torch._dynamo.reset()
    grad, x, h0, W, U, out, dphi, alpha, rule, options, tensors = rule_backward_args(name)

    def backward(grad, x, h0, W, U, out, dphi, tensors):
        return ops.leaky_rnn_rule_backward(grad, x, h0, W, U, out, dphi, alpha, rule, options, tensors)

    want = backward(grad, x, h0, W, U, out, dphi, tensors)
    got = torch.compile(backward, backend=backend, fullgraph=True)(grad, x, h0, W, U, out, dphi, tensors)
    for g, w, what in zip(got, want, ("grad_x", "grad_h0", "grad_weight_hh", "grad_weight_ih", "grad_bias")):
        assert_close(g, w, f"{name} {what}")


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
@pytest.mark.parametrize("name", list(ONLINE_RULES))
def test_compile_online_learn(name, backend):
    """In place on the function's inputs (as OnlineLearner calls it), l2 > 0: losses and every written tensor
    equal the eager call's."""
    torch._dynamo.reset()
    eager_args, compiled_args = online_args(name), online_args(name)
    rule, options = eager_args[0], eager_args[16]

    def learn(x, y, hidden, W, U, b, W_out, b_out, state, rec_grad, tensors, record):
        return ops.online_learn(rule, x, y, hidden, W, U, b, W_out, b_out, state, rec_grad, None, ALPHA, "tanh",
                                "cross_entropy", LR, options, tensors, record, L2)

    def written(a):
        return [a[3], a[4], a[5], a[6], a[7], a[8], *a[9], a[10]] + ([a[18]] if a[18] is not None else [])

    runs = []
    for fn, a in ((learn, eager_args), (torch.compile(learn, backend=backend, fullgraph=True), compiled_args)):
        losses = fn(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[17], a[18])
        runs.append([losses] + written(a))
    assert not torch.equal(runs[0][2], online_args(name)[4]) or name == "output_only", "weight_hh not updated"
    for k, (g, w) in enumerate(zip(runs[1], runs[0])):
        assert_close(g, w, f"{name} {backend} output {k}")


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_compile_online_learn_clones(backend):
    """The clone-then-mutate pattern (pytorch#198031) with a state list; the originals stay unchanged."""
    torch._dynamo.reset()
    args = online_args("uoro")
    before = [t.clone() for t in (args[3], *args[9])]

    def learn(x, y, hidden, W, U, b, W_out, b_out, state, tensors):
        h, st = hidden.clone(), [s.clone() for s in state]
        ws = [w.clone() for w in (W, U, b, W_out, b_out)]
        losses = ops.online_learn("uoro", x, y, h, *ws, st, None, None, ALPHA, "tanh", "cross_entropy", LR,
                                  args[16], tensors, None, L2)
        return losses, h, ws, st

    inputs = (args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], args[9], args[17])
    want = learn(*inputs)
    got = torch.compile(learn, backend=backend, fullgraph=True)(*inputs)
    flat = lambda r: [r[0], r[1], *r[2], *r[3]]  # noqa: E731
    for g, w in zip(flat(got), flat(want)):
        assert_close(g, w, "uoro clones")
    for t, b in zip((args[3], *args[9]), before):
        assert torch.equal(t, b)


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_compile_rflo_online_l2(backend):
    """rflo_online with l2 > 0 under compile (the old fake had no l2 argument)."""
    torch._dynamo.reset()
    a, c = rflo_online_args(), rflo_online_args()

    def learn(*args):
        return ops.rflo_online(*args)

    want = learn(*a)
    got = torch.compile(learn, backend=backend, fullgraph=True)(*c)
    assert_close(got, want, "losses")
    for k in (2, 3, 4, 5, 6, 7, 8):
        assert_close(c[k], a[k], f"argument {k}")


# ----------------------------------------------------------------------------- the fakes reject what the kernels reject
def to_meta(v):
    if isinstance(v, torch.Tensor):
        return torch.empty_strided(v.shape, v.stride(), dtype=v.dtype, device="meta")
    if isinstance(v, (list, tuple)) and v and all(isinstance(t, torch.Tensor) for t in v):
        return [to_meta(t) for t in v]
    return v


def error_of(fn, *args):
    with pytest.raises(RuntimeError) as info:
        fn(*args)
    return str(info.value).splitlines()[0]


def assert_fake_rejects(op, args, pattern, same_message=True):
    """The real kernel (CPU) and the fake (meta tensors) both raise a RuntimeError naming the op and matching
    ``pattern``; with ``same_message`` the two messages are equal."""
    fn = getattr(OPS, op).default
    real = error_of(fn, *args)
    fake = error_of(fn, *[to_meta(a) for a in args])
    for message in (real, fake):
        assert message.startswith(f"{op}: "), message
        assert re.search(pattern, message), f"{message!r} does not match {pattern!r}"
    if same_message:
        assert fake == real


def changed(args, **change):
    """args (a tuple of the op's arguments) with some replaced by name (see the *_NAMES lists)."""
    names = ONLINE_NAMES if len(args) == len(ONLINE_NAMES) else BACKWARD_NAMES
    out = list(args)
    for k, v in change.items():
        i = names.index(k)
        out[i] = v(out[i]) if callable(v) else v
    return tuple(out)


ONLINE_NAMES = ["rule", "x", "y", "hidden", "weight_hh", "weight_ih", "bias", "weight_out", "bias_out", "state",
                "rec_grad", "feedback", "alpha", "nonlinearity", "loss", "lr", "rule_options", "rule_tensors",
                "record", "l2"]
BACKWARD_NAMES = ["grad_output", "x", "h0", "weight_hh", "weight_ih", "output", "dphi", "alpha", "rule",
                  "rule_options", "rule_tensors"]
pad = lambda *widths: (lambda t: torch.nn.functional.pad(t, widths))  # noqa: E731  (grows the last dimensions)

ONLINE_CASES = [
    ("x 2-D", dict(x=lambda t: t[0]), r"expected x to be 3-D"),
    ("x float16", dict(x=lambda t: t.half()), r"expected x to be a float32 or float64 tensor, but got Half"),
    ("y dtype", dict(y=lambda t: t.float()), r"expected y to have the dtype of x \(Double\), but got Float"),
    ("y seq_len", dict(y=lambda t: t[:-1]), r"expected y of shape \(seq_len, batch, output_size\)"),
    ("weight_hh not square", dict(weight_hh=pad(0, 1)), r"expected weight_hh to be a square 2-D"),
    ("weight_ih", dict(weight_ih=pad(0, 1)), r"expected weight_ih of shape \(hidden_size, input_size\) = \(3, 2\)"),
    ("bias", dict(bias=pad(0, 1)), r"expected bias of shape \(hidden_size,\) = \(3,\)"),
    ("weight_out", dict(weight_out=pad(0, 1)), r"expected weight_out of shape \(output_size, hidden_size\)"),
    ("bias_out 2-D", dict(bias_out=lambda t: t[None]), r"expected bias_out to be 1-D"),
    ("hidden", dict(hidden=lambda t: t[:1]), r"expected hidden of shape \(batch, hidden_size\) = \(2, 3\)"),
    ("hidden strided", dict(hidden=lambda t: t.t().contiguous().t()), r"expected hidden to be contiguous"),
    ("weight_hh float32", dict(weight_hh=lambda t: t.float()), r"expected weight_hh to have the dtype of x"),
    ("feedback", dict(feedback=lambda t: torch.zeros(O, N + 1, dtype=DT)), r"expected feedback of shape"),
    ("rec_grad", dict(rec_grad=pad(0, 1)), r"expected rec_grad of shape"),
    ("alpha 1.5", dict(alpha=1.5), r"expected alpha in \(0, 1\], but got 1.5"),
    ("alpha 0", dict(alpha=0.0), r"expected alpha in \(0, 1\], but got 0"),
    ("lr < 0", dict(lr=-0.1), r"expected lr to be a finite number >= 0, but got -0.1"),
    ("lr inf", dict(lr=float("inf")), r"expected lr to be a finite number >= 0, but got inf"),
    ("l2 < 0", dict(l2=-0.5), r"expected l2 to be a finite number >= 0, but got -0.5"),
    ("l2 nan", dict(l2=float("nan")), r"expected l2 to be a finite number >= 0, but got nan"),
    ("nonlinearity", dict(nonlinearity="gelu"), r"expected nonlinearity to be one of 'tanh', 'relu', 'sigmoid'"),
    ("loss", dict(loss="l1"), r"expected loss to be one of 'cross_entropy', 'mse', 'mse_mean'"),
    ("record for rtrl", dict(record=lambda _: torch.zeros(T, B, 4, N, dtype=DT)),
     r"only rules 'dni' and 'dni_b' record per-step signals, but got record for rule 'rtrl'"),
]


@pytest.mark.parametrize("case,change,pattern", ONLINE_CASES, ids=[c[0] for c in ONLINE_CASES])
def test_fake_online_learn_rejects(case, change, pattern):
    args = online_args("rtrl", feedback=True)
    assert_fake_rejects("online_learn", changed(args, **change), pattern)


def rule_case(case, name, change, pattern):
    return pytest.param(name, change, pattern, id=case)


@pytest.mark.parametrize("name,change,pattern", [
    rule_case("state dtype", "kf_rtrl", dict(state=lambda s: [s[0].float(), s[1]]), r"state\[0\].*dtype"),
    rule_case("state strided", "rkf_rtrl", dict(state=lambda s: [s[0].t().contiguous().t(), s[1]]),
              r"state\[0\].*contiguous"),
    rule_case("record shape", "dni", dict(record=lambda r: r[:, :, :3].contiguous()), r"record"),
])
def test_fake_online_learn_rejects_state(name, change, pattern):
    """What holds for every rule's state and record (the messages name the op and the argument; the wording
    of the state's layout may differ)."""
    assert_fake_rejects("online_learn", changed(online_args(name), **change), pattern, same_message=False)


@pytest.mark.parametrize("name,change,pattern", [
    rule_case("unknown rule", "rtrl", dict(rule="nope"), r"nope"),
    rule_case("no online form", "rtrl", dict(rule="bptt"), r"bptt"),
    rule_case("bad option", "f_bptt", dict(rule_options=[0.0]), r"truncation"),
    rule_case("too many options", "rtrl", dict(rule_options=[0.0, 0.0, 0.0]), r"rule_options"),
    rule_case("state count", "rtrl", dict(state=lambda s: s + s), r"state"),
    rule_case("state shape", "uoro", dict(state=lambda s: [s[0], s[1][:, :, :-1].contiguous()]), r"state\[1\]"),
    rule_case("state rank", "kernl", dict(state=lambda s: s[:2] + [s[2][None]] + s[3:]), r"state\[2\]"),
])
def test_fake_online_learn_rejects_rule(name, change, pattern):
    """The rule, its options and its state's count and shapes, from the registry ops."""
    assert_fake_rejects("online_learn", changed(online_args(name), **change), pattern, same_message=False)


BACKWARD_CASES = [
    ("dphi", dict(dphi=lambda t: t[:, :1]), r"expected dphi of shape \(seq_len, batch, hidden_size\)"),
    ("grad_output dtype", dict(grad_output=lambda t: t.float()), r"expected grad_output to have the dtype of x"),
    ("output 2-D", dict(output=lambda t: t[0]), r"expected output to be 3-D"),
    ("h0", dict(h0=pad(0, 1)), r"expected h0 of shape \(batch, hidden_size\)"),
    ("weight_hh empty", dict(weight_hh=lambda t: t[:0, :0]), r"expected hidden_size > 0"),
    ("alpha 1.5", dict(alpha=1.5), r"expected alpha in \(0, 1\], but got 1.5"),
]


@pytest.mark.parametrize("op", ["leaky_rnn_bptt_backward", "leaky_rnn_rflo_backward", "leaky_rnn_rule_backward"])
@pytest.mark.parametrize("case,change,pattern", BACKWARD_CASES, ids=[c[0] for c in BACKWARD_CASES])
def test_fake_backward_rejects(op, case, change, pattern):
    args = changed(rule_backward_args("rtrl"), **change)
    if op == "leaky_rnn_bptt_backward":
        args = args[:8]
    elif op == "leaky_rnn_rflo_backward":
        args = args[:8] + (0.3,)
    assert_fake_rejects(op, args, pattern)


def test_fake_rflo_rejects():
    grad, x, h0, W, U, out, dphi, alpha = rule_backward_args("bptt")[:8]
    assert_fake_rejects("leaky_rnn_rflo_backward", (grad, x, h0, W, U, out, dphi, alpha, 1.5),
                        r"expected trace_alpha in \(0, 1\], but got 1.5")
    assert_fake_rejects("leaky_rnn_bptt_backward", (grad, x, h0, W, U, out, dphi, 0.0),
                        r"expected alpha in \(0, 1\], but got 0")
    args = list(rflo_online_args())
    args[3] = args[3][:, :, :-1].contiguous()
    assert_fake_rejects("rflo_online", tuple(args), r"expected trace of shape \(batch, hidden_size, hidden_size \+ input_size \+ 1\)")
    args = list(rflo_online_args())
    args[11] = 0.0
    assert_fake_rejects("rflo_online", tuple(args), r"expected trace_alpha in \(0, 1\], but got 0")
    args = list(rflo_online_args())
    args[15] = -1.0
    assert_fake_rejects("rflo_online", tuple(args), r"expected l2 to be a finite number >= 0, but got -1")
    args = list(rflo_online_args())
    args[4] = args[4][:, :2]
    assert_fake_rejects("rflo_online", tuple(args), r"expected weight_hh to be a square 2-D")


@pytest.mark.parametrize("rule,options,pattern", [("nope", [], "nope"), ("dni", [], "dni"), ("f_bptt", [0.0], "trunc"),
                                                  ("rflo", [1.5], "trace_alpha"), ("uoro", [0.0, 1.0], "rho")],
                         ids=["unknown", "no sequence form", "bad option", "bad trace_alpha", "option count"])
def test_fake_rule_backward_rejects_rule(rule, options, pattern):
    args = changed(rule_backward_args("rtrl"), rule=rule, rule_options=options)
    assert_fake_rejects("leaky_rnn_rule_backward", args, pattern, same_message=False)


FORWARD_CASES = [
    ("nonlinearity", dict(nonlinearity="gelu"), r"expected nonlinearity to be one of"),
    ("bias", dict(bias=pad(0, 1)), r"expected bias of shape \(hidden_size,\)"),
    ("weight_ih", dict(weight_ih=lambda t: t[:, :1]), r"expected weight_ih of shape"),
    ("x int", dict(x=lambda t: t.long()), r"expected x to be a float32 or float64 tensor, but got Long"),
    ("alpha 1.5", dict(alpha=1.5), r"expected alpha in \(0, 1\], but got 1.5"),
]


@pytest.mark.parametrize("case,change,pattern", FORWARD_CASES, ids=[c[0] for c in FORWARD_CASES])
def test_fake_forward_rejects(case, change, pattern):
    x, h0, W, U, b, _ = net()
    a = dict(x=x, h0=h0, weight_hh=W, weight_ih=U, bias=b, alpha=ALPHA, nonlinearity="tanh")
    a.update({k: (v(a[k]) if callable(v) else v) for k, v in change.items()})
    assert_fake_rejects("leaky_rnn_forward", tuple(a.values()), pattern)


def test_fake_leaky_rnn_rejects():
    """leaky_rnn's own fake (below autograd, where AOT tracing meets it) and the Autograd kernel on meta
    tensors reject a bad alpha and a bad shape like the kernel."""
    x, h0, W, U, b, _ = net()
    for alpha, change, pattern in ((1.5, {}, r"expected alpha in \(0, 1\], but got 1.5"),
                                   (ALPHA, {"bias": b[:2]}, r"expected bias of shape \(hidden_size,\)")):
        args = dict(x=x, h0=h0, weight_hh=W, weight_ih=U, bias=b)
        args.update(change)
        call = (*args.values(), alpha, "tanh", "bptt", [], [])
        real = error_of(OPS.leaky_rnn.default, *call)
        fake = error_of(OPS.leaky_rnn.default, *[to_meta(a) for a in call])
        with torch._C._AutoDispatchBelowAutograd():
            below = error_of(OPS.leaky_rnn.default, *[to_meta(a) for a in call])
        for message in (real, fake, below):
            assert re.search(pattern, message), message
        assert fake == real
        assert below.split(": ", 1)[1] == real.split(": ", 1)[1]  # named leaky_rnn, not leaky_rnn_forward


def test_fake_leaky_rnn_rejects_rule():
    x, h0, W, U, b, _ = net()
    for rule, options in (("nope", []), ("dni", []), ("rflo", [1.5])):
        call = (x, h0, W, U, b, ALPHA, "tanh", rule, options, [])
        with torch._C._AutoDispatchBelowAutograd():
            message = error_of(OPS.leaky_rnn.default, *[to_meta(a) for a in call])
        assert message.startswith("leaky_rnn: "), message
        error_of(OPS.leaky_rnn.default, *call)  # the kernel rejects it too


def test_fakes_accept_every_argument():
    """l2 and record reach the fakes (torch.compile with l2 > 0 used to fail); meta calls return the kernels'
    shapes."""
    args = [to_meta(a) for a in online_args("dni")]
    losses = OPS.online_learn.default(*args)
    assert losses.shape == (T, B) and losses.device.type == "meta" and losses.dtype == DT
    losses = OPS.rflo_online.default(*[to_meta(a) for a in rflo_online_args()])
    assert losses.shape == (T, B)
    grads = OPS.leaky_rnn_rule_backward.default(*[to_meta(a) for a in rule_backward_args("rtrl")])
    assert [tuple(g.shape) for g in grads] == [(T, B, I), (B, N), (N, N), (N, I), (N,)]


def test_fakes_with_symbolic_sizes():
    """Under dynamic shapes the sizes are SymInts: the fakes return symbolic shapes, and the state is compared
    with rule_state_shapes on the sizes' hints (ops._hint), adding no guard."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import DimDynamic, ShapeEnv, StatelessSymbolicContext
    env = ShapeEnv()
    mode = FakeTensorMode(shape_env=env)

    def fake(t):
        dynamic = StatelessSymbolicContext(dynamic_sizes=[DimDynamic.DYNAMIC] * t.dim())
        return mode.from_tensor(t, symbolic_context=dynamic)

    x = fake(torch.empty(5, 3, dtype=DT))
    assert isinstance(x.shape[0], torch.SymInt) and ops._hint(x.shape[0]) == 5 and ops._hint(7) == 7
    assert not env.guards
    args = [fake(a) if isinstance(a, torch.Tensor) else [fake(t) for t in a] if isinstance(a, list) and a
            and isinstance(a[0], torch.Tensor) else a for a in online_args("uoro")]
    with mode:
        losses = OPS.online_learn.default(*args)
    assert losses.dim() == 2 and ops._hint(losses.shape[0]) == T and ops._hint(losses.shape[1]) == B


# ----------------------------------------------------------------------------- the registry ops
def test_rule_registry_matches_the_rule_configs():
    names = ops.rule_names()
    assert names == sorted(names) and set(names) == set(rules.RULES)
    # the parametrisations above cover every rule of each form
    assert set(SEQUENCE_RULES) == {r for r in names if ops.rule_info(r).sequence_form}
    assert set(ONLINE_RULES) == {r for r in names if ops.rule_info(r).online_form}
    for name in names:
        info, cfg = ops.rule_info(name), rules.RULES[name]()
        assert len(info.option_names) == len(info.option_defaults) and info.option_counts
        assert max(info.option_counts) <= len(info.option_names)
        assert info.sequence_form == cfg.has_sequence_form and info.online_form == cfg.has_online_form, name
        if info.online_form and name != "eprop":
            assert len(cfg.online_options(ALPHA)) in info.option_counts, name
        for form in ("sequence", "online"):
            if getattr(info, f"{form}_form"):
                ops.check_rule(name, None if 0 in info.option_counts else cfg.online_options(ALPHA), ALPHA, form)
            else:
                with pytest.raises(RuntimeError):
                    ops.check_rule(name, [], ALPHA, form)
    with pytest.raises(RuntimeError, match="nope"):
        ops.rule_info("nope")
    with pytest.raises(RuntimeError, match="nope"):
        ops.check_rule("nope", [], ALPHA, "sequence")


@pytest.mark.parametrize("name", list(ONLINE_RULES))
def test_rule_state_shapes_match_online_state(name):
    rule = ONLINE_RULES[name]
    options = [] if name == "eprop" else rule.online_options(ALPHA)
    shapes = ops.rule_state_shapes(name, options, ALPHA, B, N, I, O)
    state = rule.online_state(B, N, I, outputs=O, generator=generator(0), weight_hh=torch.eye(N, dtype=DT),
                              dtype=DT)
    assert list(shapes.values()) == [tuple(t.shape) for t in state.values()], (name, shapes)


def test_registry_ops_under_fake_mode_and_compile():
    """They take no tensors, so the fakes can call them under FakeTensorMode and in a compiled graph."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode():
        assert ops.rule_names() and ops.rule_state_shapes("rtrl", [], ALPHA, B, N, I, O)
        ops.check_rule("rtrl", [], ALPHA, "online")

    def f(x):
        ops.check_rule("f_bptt", [2.0], ALPHA, "online")
        return x + 1

    torch._dynamo.reset()
    assert torch.equal(torch.compile(f, backend="aot_eager", fullgraph=True)(torch.ones(2)), torch.full((2,), 2.0))


# ----------------------------------------------------------------------------- TorchScript and the package's calls
@script_ok
def test_script_wrappers():
    """The typed wrappers compile with TorchScript, and a scripted LocalRNN calls the op through ops.leaky_rnn."""
    for fn in (ops.leaky_rnn, ops.leaky_rnn_forward, ops.leaky_rnn_bptt_backward, ops.leaky_rnn_rflo_backward,
               ops.leaky_rnn_rule_backward, ops.online_learn, ops.rflo_online):
        torch.jit.script(fn)
    x, h0, W, U, b, _ = net()
    scripted = torch.jit.script(ops.leaky_rnn)
    assert torch.equal(scripted(x, h0, W, U, b, ALPHA, "tanh", "rflo", [0.3]),
                       ops.leaky_rnn(x, h0, W, U, b, ALPHA, "tanh", "rflo", [0.3]))
    model = torch.jit.script(LocalRNN(I, N, alpha=ALPHA, rule="rflo", dtype=DT))
    assert "torch_local_rnn::leaky_rnn" in str(model.forward.inlined_graph)
    out, h_n = model(x, h0[None])
    assert out.shape == (T, B, N) and h_n.shape == (1, B, N)


def test_package_calls_ops_only_through_ops_py():
    """Every call of the package into the library goes through torch_local_rnn/ops.py and the private modules
    of op wrappers it re-exports, _<family>_ops.py (the loader, which calls cuda_version before ops.py can be
    imported, excepted)."""
    package = os.path.join(ROOT, "torch_local_rnn")
    call = re.compile(r"torch\.ops\.torch_local_rnn\.\w+|=\s*torch\.ops\.torch_local_rnn\s*$", re.M)
    offenders = []
    for folder, _, files in os.walk(package):
        for f in files:
            path = os.path.join(folder, f)
            # ops.py's private parts _<name>_ops.py (the wrappers of one family of ops, re-exported by ops.py)
            rel = os.path.relpath(path, package)
            if not f.endswith(".py") or rel in ("ops.py", "_library.py") or re.fullmatch(r"_\w+_ops\.py", rel):
                continue
            with open(path) as fh:
                offenders += [f"{os.path.relpath(path, ROOT)}: {m.group(0)}" for m in call.finditer(fh.read())]
    assert not offenders, offenders
    assert not os.path.exists(os.path.join(package, "_fake.py")), "fakes live beside their wrappers in ops.py"
