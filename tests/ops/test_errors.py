"""Bad input raises an error that names the argument, what was expected and what came, at the
op level (torch.ops.torch_local_rnn.*), the module level (LocalRNN, OnlineLearner) and the rules
config level. Never a crash, and a failed call changes nothing."""
import re

import pytest
import torch
from torch import nn

from helpers import DT, problem
from torch_local_rnn import LocalRNN, OnlineLearner, rules

OPS = torch.ops.torch_local_rnn
T, B, I, n, O = 4, 2, 3, 5, 3


@pytest.fixture
def net():
    p = problem(T, B, I, n, seed=101)
    p["y"] = torch.softmax(torch.randn(T, B, O, dtype=DT), -1)
    out, dphi = OPS.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 0.5, "tanh")
    p["output"], p["dphi"] = out, dphi
    return p


def forward_args(p, **change):
    a = dict(x=p["x"], h0=p["h0"], weight_hh=p["weight_hh"], weight_ih=p["weight_ih"], bias=p["bias"], alpha=0.5,
             nonlinearity="tanh")
    a.update(change)
    return a


# (id, changes to the forward arguments, regex of the message)
FORWARD_CASES = [
    ("x 2-D", dict(x=lambda p: p["x"][0]), r"expected x to be 3-D \(seq_len, batch, input_size\), but got a 2-D tensor"),
    ("x 4-D", dict(x=lambda p: p["x"][None]), r"expected x to be 3-D .*but got a 4-D tensor of shape \(1, 4, 2, 3\)"),
    ("x int", dict(x=lambda p: p["x"].long()), r"expected x to be a float32 or float64 tensor, but got Long"),
    ("x float16", dict(x=lambda p: p["x"].half()), r"expected x to be a float32 or float64 tensor, but got Half"),
    ("T = 0", dict(x=lambda p: p["x"][:0]), r"expected x to be non-empty, but got shape \(0, 2, 3\)"),
    ("B = 0", dict(x=lambda p: p["x"][:, :0], h0=lambda p: p["h0"][:0]), r"expected x to be non-empty, but got shape \(4, 0, 3\)"),
    ("h0 rank", dict(h0=lambda p: p["h0"][0]), r"expected h0 to be 2-D \(batch, hidden_size\), but got a 1-D tensor"),
    ("h0 batch", dict(h0=lambda p: p["h0"][:1]), r"expected h0 of shape \(batch, hidden_size\) = \(2, 5\).*but got \(1, 5\)"),
    ("h0 hidden", dict(h0=lambda p: p["h0"][:, :4]), r"expected h0 of shape .* = \(2, 5\).*but got \(2, 4\)"),
    ("h0 dtype", dict(h0=lambda p: p["h0"].float()), r"expected h0 to have the dtype of x \(Double\), but got Float"),
    ("weight_hh not square", dict(weight_hh=lambda p: p["weight_hh"][:4]),
     r"expected weight_hh to be a square 2-D \(hidden_size, hidden_size\) tensor, but got shape \(4, 5\)"),
    ("weight_hh 3-D", dict(weight_hh=lambda p: p["weight_hh"][None]), r"expected weight_hh to be a square 2-D .*but got shape \(1, 5, 5\)"),
    ("weight_hh dtype", dict(weight_hh=lambda p: p["weight_hh"].float()), r"expected weight_hh to have the dtype of x \(Double\), but got Float"),
    ("weight_hh int", dict(weight_hh=lambda p: p["weight_hh"].int()), r"expected weight_hh to have the dtype of x \(Double\), but got Int"),
    ("weight_ih inputs", dict(weight_ih=lambda p: p["weight_ih"][:, :2]),
     r"expected weight_ih of shape \(hidden_size, input_size\) = \(5, 3\).*but got \(5, 2\)"),
    ("weight_ih rank", dict(weight_ih=lambda p: p["weight_ih"][0]), r"expected weight_ih to be 2-D .*but got a 1-D tensor"),
    ("weight_ih dtype", dict(weight_ih=lambda p: p["weight_ih"].float()), r"expected weight_ih to have the dtype of x"),
    ("bias size", dict(bias=lambda p: p["bias"][:4]), r"expected bias of shape \(hidden_size,\) = \(5,\).*but got \(4,\)"),
    ("bias rank", dict(bias=lambda p: p["bias"][None]), r"expected bias to be 1-D .*but got a 2-D tensor"),
    ("bias dtype", dict(bias=lambda p: p["bias"].float()), r"expected bias to have the dtype of x \(Double\), but got Float"),
    ("hidden_size 0", dict(weight_hh=torch.zeros(0, 0, dtype=DT), weight_ih=torch.zeros(0, 3, dtype=DT),
                           bias=torch.zeros(0, dtype=DT), h0=torch.zeros(2, 0, dtype=DT)),
     r"expected hidden_size > 0, but got weight_hh of shape \(0, 0\)"),
    ("alpha 0", dict(alpha=0.0), r"expected alpha in \(0, 1\], but got 0"),
    ("alpha 1.5", dict(alpha=1.5), r"expected alpha in \(0, 1\], but got 1.5"),
    ("alpha -1", dict(alpha=-1.0), r"expected alpha in \(0, 1\], but got -1"),
    ("alpha nan", dict(alpha=float("nan")), r"expected alpha in \(0, 1\], but got nan"),
    ("nonlinearity", dict(nonlinearity="gelu"),
     r"expected nonlinearity to be one of 'tanh', 'relu', 'sigmoid', but got 'gelu'"),
]


def build(p, changes):
    return {k: (v(p) if callable(v) else v) for k, v in forward_args(p, **changes).items()}


@pytest.mark.parametrize("changes,pattern", [pytest.param(c, m, id=i) for i, c, m in FORWARD_CASES])
def test_leaky_rnn_forward_op_errors(net, changes, pattern):
    a = build(net, changes)
    with pytest.raises(RuntimeError, match=r"leaky_rnn_forward: " + pattern):
        OPS.leaky_rnn_forward(**a)


LEAKY_RNN_PATTERNS = {r"expected x to be a float32 or float64 tensor, but got Half":
                      r"expected h0 to have the dtype of x \(Half; float16 and bfloat16 run in float32 inside"}


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("changes,pattern", [pytest.param(c, m, id=i) for i, c, m in FORWARD_CASES])
def test_leaky_rnn_op_errors(net, changes, pattern, requires_grad):
    if pattern in LEAKY_RNN_PATTERNS:  # leaky_rnn runs float16 in float32 (algorithms.md §1.3): a mix is the error
        pattern = LEAKY_RNN_PATTERNS[pattern]
    a = build(net, changes)
    if requires_grad:
        a = {k: (v.detach().clone().requires_grad_(True) if isinstance(v, torch.Tensor) and v.is_floating_point()
                 else v) for k, v in a.items()}
    for rule, options in (("bptt", []), ("rflo", []), ("rflo", [0.5])):
        if rule == "rflo" and not options and "alpha" in changes:
            continue  # a bad alpha with the default trace_alpha: test_leaky_rnn_rflo_default_trace_alpha_bad_alpha
        with pytest.raises(RuntimeError, match=pattern):
            OPS.leaky_rnn(**a, rule=rule, rule_options=options, rule_tensors=[])


@pytest.mark.parametrize("alpha", [0.0, 1.5, -1.0])
def test_leaky_rnn_rflo_default_trace_alpha_bad_alpha(net, alpha):
    """rule 'rflo' without rule_options takes trace_alpha = alpha; a bad alpha must be reported as
    alpha (the argument the caller passed), not as rule_options[0] (which the caller did not pass)."""
    with pytest.raises(RuntimeError, match=r"expected alpha in \(0, 1\], but got " + re.escape(f"{alpha:g}")):
        OPS.leaky_rnn(**build(net, dict(alpha=alpha)), rule="rflo", rule_options=[], rule_tensors=[])


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("rule,options,pattern", [
    ("eprop ", [], r"leaky_rnn: expected rule to be one of 'bptt', 'dni', .*'rtrl'.*, but got 'eprop '"),
    ("", [], r"expected rule to be one of 'bptt', 'dni', .*, but got ''"),
    ("BPTT", [], r"expected rule to be one of 'bptt', 'dni', .*, but got 'BPTT'"),
    ("bptt", [0.5], r"rule 'bptt' takes rule_options = \[\], but got 1 values"),
    ("eprop", [0.5], r"rule 'eprop' takes rule_options = \[\], but got 1 values"),
    ("rflo", [0.5, 0.1], r"rule 'rflo' takes rule_options = \[\] or \[trace_alpha\], but got 2 values"),
    ("rflo", [0.0], r"expected trace_alpha .* in \(0, 1\], but got 0"),
    ("rflo", [1.5], r"expected trace_alpha .* in \(0, 1\], but got 1.5"),
    ("rflo", [-1.0], r"expected trace_alpha .* in \(0, 1\], but got -1"),
    ("rflo", [float("nan")], r"expected trace_alpha .* in \(0, 1\], but got nan"),
])
def test_leaky_rnn_rule_errors(net, rule, options, pattern, requires_grad):
    a = build(net, {})
    if requires_grad:
        a["weight_hh"] = a["weight_hh"].clone().requires_grad_(True)
    with pytest.raises(RuntimeError, match=pattern):
        OPS.leaky_rnn(**a, rule=rule, rule_options=options, rule_tensors=[])


BACKWARD_CASES = [
    ("grad_output shape", dict(grad_output=lambda p: p["grad_output"][:, :1]),
     r"expected grad_output of shape \(seq_len, batch, hidden_size\) = \(4, 2, 5\).*but got \(4, 1, 5\)"),
    ("grad_output dtype", dict(grad_output=lambda p: p["grad_output"].float()),
     r"expected grad_output to have the dtype of x \(Double\), but got Float"),
    ("grad_output int", dict(grad_output=lambda p: p["grad_output"].long()),
     r"expected grad_output to have the dtype of x \(Double\), but got Long"),
    ("output shape", dict(output=lambda p: p["output"][:3]), r"expected output of shape .*= \(4, 2, 5\).*but got \(3, 2, 5\)"),
    ("dphi rank", dict(dphi=lambda p: p["dphi"][0]), r"expected dphi to be 3-D .*but got a 2-D tensor"),
    ("x int", dict(x=lambda p: p["x"].long()), r"expected x to be a float32 or float64 tensor, but got Long"),
    ("T = 0", dict(x=lambda p: p["x"][:0], grad_output=lambda p: p["grad_output"][:0], output=lambda p: p["output"][:0],
                   dphi=lambda p: p["dphi"][:0]), r"expected x to be non-empty, but got shape \(0, 2, 3\)"),
    ("weight_ih", dict(weight_ih=lambda p: p["weight_ih"][:, :2]), r"expected weight_ih of shape .*but got \(5, 2\)"),
    ("h0", dict(h0=lambda p: p["h0"][:, :3]), r"expected h0 of shape .*but got \(2, 3\)"),
    ("alpha 0", dict(alpha=0.0), r"expected alpha in \(0, 1\], but got 0"),
    ("alpha 1.5", dict(alpha=1.5), r"expected alpha in \(0, 1\], but got 1.5"),
    ("alpha -1", dict(alpha=-1.0), r"expected alpha in \(0, 1\], but got -1"),
]


def backward_args(p, changes):
    a = dict(grad_output=p["grad_output"], x=p["x"], h0=p["h0"], weight_hh=p["weight_hh"],
             weight_ih=p["weight_ih"], output=p["output"], dphi=p["dphi"], alpha=0.5)
    a.update(changes)
    return {k: (v(p) if callable(v) else v) for k, v in a.items()}


@pytest.mark.parametrize("which", ["bptt", "rflo"])
@pytest.mark.parametrize("changes,pattern", [pytest.param(c, m, id=i) for i, c, m in BACKWARD_CASES])
def test_backward_op_errors(net, which, changes, pattern):
    a = backward_args(net, changes)
    if which == "bptt":
        with pytest.raises(RuntimeError, match="leaky_rnn_bptt_backward: " + pattern):
            OPS.leaky_rnn_bptt_backward(**a)
    else:
        with pytest.raises(RuntimeError, match="leaky_rnn_rflo_backward: " + pattern):
            OPS.leaky_rnn_rflo_backward(**a, trace_alpha=0.5)


@pytest.mark.parametrize("trace_alpha", [0.0, 1.5, -1.0, float("nan")])
def test_rflo_backward_trace_alpha(net, trace_alpha):
    with pytest.raises(RuntimeError, match=r"leaky_rnn_rflo_backward: expected trace_alpha in \(0, 1\], but got "
                                           + re.escape(f"{trace_alpha:g}")):
        OPS.leaky_rnn_rflo_backward(**backward_args(net, {}), trace_alpha=trace_alpha)


def online_args(p, changes):
    a = dict(x=p["x"], y=p["y"], hidden=p["h0"].clone(), trace=torch.zeros(B, n, n + I + 1, dtype=DT),
             weight_hh=p["weight_hh"].clone(), weight_ih=p["weight_ih"].clone(), bias=p["bias"].clone(),
             weight_out=torch.randn(O, n, dtype=DT), bias_out=torch.zeros(O, dtype=DT), feedback=None, alpha=0.5,
             trace_alpha=0.5, nonlinearity="tanh", loss="cross_entropy", lr=0.1)
    return {**a, **{k: (v(a) if callable(v) else v) for k, v in changes.items()}}


ONLINE_CASES = [
    ("feedback transposed", dict(feedback=torch.randn(n, O, dtype=DT)),
     r"expected feedback of shape \(output_size, hidden_size\) = \(3, 5\).*but got \(5, 3\)"),
    ("feedback rank", dict(feedback=torch.randn(O * n, dtype=DT)), r"expected feedback to be 2-D .*but got a 1-D tensor"),
    ("feedback dtype", dict(feedback=torch.randn(O, n)), r"expected feedback to have the dtype of x \(Double\), but got Float"),
    ("hidden_size 0", dict(weight_hh=torch.zeros(0, 0, dtype=DT)),
     r"expected weight_hh to be a square 2-D \(hidden_size, hidden_size\) tensor, but got shape \(0, 0\)"),
    ("loss", dict(loss="nll"), r"expected loss to be one of 'cross_entropy', 'mse', 'mse_mean', but got 'nll'"),
    ("nonlinearity", dict(nonlinearity="gelu"), r"expected nonlinearity to be one of .* but got 'gelu'"),
    ("alpha 0", dict(alpha=0.0), r"expected alpha in \(0, 1\], but got 0"),
    ("alpha 1.5", dict(alpha=1.5), r"expected alpha in \(0, 1\], but got 1.5"),
    ("alpha -1", dict(alpha=-1.0), r"expected alpha in \(0, 1\], but got -1"),
    ("trace_alpha 0", dict(trace_alpha=0.0), r"expected trace_alpha in \(0, 1\], but got 0"),
    ("trace_alpha 1.5", dict(trace_alpha=1.5), r"expected trace_alpha in \(0, 1\], but got 1.5"),
    ("trace_alpha -1", dict(trace_alpha=-1.0), r"expected trace_alpha in \(0, 1\], but got -1"),
    ("lr -0.1", dict(lr=-0.1), r"expected lr to be a finite number >= 0, but got -0.1"),
    ("lr nan", dict(lr=float("nan")), r"expected lr to be a finite number >= 0, but got nan"),
    ("lr inf", dict(lr=float("inf")), r"expected lr to be a finite number >= 0, but got inf"),
    ("x 2-D", dict(x=lambda a: a["x"][0]), r"expected x to be 3-D .*but got a 2-D tensor"),
    ("x int", dict(x=lambda a: a["x"].long()), r"expected x to be a float32 or float64 tensor, but got Long"),
    ("T = 0", dict(x=lambda a: a["x"][:0], y=lambda a: a["y"][:0]), r"expected x to be non-empty, but got shape \(0, 2, 3\)"),
    ("y steps", dict(y=lambda a: a["y"][:3]), r"expected y of shape \(seq_len, batch, output_size\) = \(4, 2, -1\).*but got \(3, 2, 3\)"),
    ("y int", dict(y=lambda a: a["y"].long()), r"expected y to have the dtype of x \(Double\), but got Long"),
    ("y no outputs", dict(y=lambda a: a["y"][..., :0]), r"expected y to have output_size > 0, but got shape \(4, 2, 0\)"),
    ("hidden shape", dict(hidden=torch.zeros(B + 1, n, dtype=DT)), r"expected hidden of shape \(batch, hidden_size\) = \(2, 5\).*but got \(3, 5\)"),
    ("hidden dtype", dict(hidden=torch.zeros(B, n)), r"expected hidden to have the dtype of x \(Double\), but got Float"),
    ("trace shape", dict(trace=torch.zeros(B, n, n + I, dtype=DT)),
     r"expected trace of shape \(batch, hidden_size, hidden_size \+ input_size \+ 1\) = \(2, 5, 9\).*but got \(2, 5, 8\)"),
    ("trace noncontiguous", dict(trace=torch.zeros(B, n + I + 1, n, dtype=DT).transpose(1, 2)),
     r"expected trace to be contiguous \(it is updated in place\), but got strides"),
    ("weight_hh noncontiguous", dict(weight_hh=lambda a: a["weight_hh"].t().contiguous().t()),
     r"expected weight_hh to be contiguous \(it is updated in place\), but got strides \(1, 5\)"),
    ("weight_hh dtype", dict(weight_hh=lambda a: a["weight_hh"].float()), r"expected weight_hh to have the dtype of x \(Double\), but got Float"),
    ("weight_ih shape", dict(weight_ih=lambda a: a["weight_ih"][:, :2].contiguous()), r"expected weight_ih of shape .*= \(5, 3\).*but got \(5, 2\)"),
    ("bias shape", dict(bias=lambda a: a["bias"][:4].contiguous()), r"expected bias of shape .*but got \(4,\)"),
    ("weight_out shape", dict(weight_out=torch.zeros(O, n + 1, dtype=DT)),
     r"expected weight_out of shape \(output_size, hidden_size\) = \(3, 5\).*but got \(3, 6\)"),
    ("bias_out shape", dict(bias_out=torch.zeros(O + 1, dtype=DT)), r"expected bias_out of shape \(output_size,\) = \(3,\).*but got \(4,\)"),
]


@pytest.mark.parametrize("changes,pattern", [pytest.param(c, m, id=i) for i, c, m in ONLINE_CASES])
def test_rflo_online_op_errors_change_nothing(net, changes, pattern):
    a = online_args(net, changes)
    before = {k: v.clone() for k, v in a.items() if isinstance(v, torch.Tensor)}
    with pytest.raises(RuntimeError, match="rflo_online: " + pattern):
        OPS.rflo_online(**a)
    for k, v in before.items():
        assert torch.equal(a[k], v), f"a failed rflo_online call changed {k}"


# ----------------------------------------------------------------------------- LocalRNN
@pytest.mark.parametrize("kwargs,exc,pattern", [
    (dict(alpha=0.0), ValueError, r"LocalRNN: expected alpha in \(0, 1\], but got 0"),
    (dict(alpha=1.5), ValueError, r"LocalRNN: expected alpha in \(0, 1\], but got 1.5"),
    (dict(alpha=-1), ValueError, r"LocalRNN: expected alpha in \(0, 1\], but got -1"),
    (dict(alpha=float("nan")), ValueError, r"LocalRNN: expected alpha in \(0, 1\], but got nan"),
    (dict(nonlinearity="gelu"), ValueError, r"LocalRNN: expected nonlinearity to be one of 'tanh', 'relu', 'sigmoid', but got 'gelu'"),
    (dict(rule="hebb"), ValueError, r"expected rule to be one of \[.*'bptt'.*'rflo'.*\] or a rules config, but got 'hebb'"),
    (dict(rule=42), TypeError, r"expected rule to be a rule name or a rules config, but got int"),
    (dict(input_size=0), ValueError, r"LocalRNN: expected input_size and hidden_size > 0, but got 0, 5"),
    (dict(hidden_size=-2), ValueError, r"LocalRNN: expected input_size and hidden_size > 0, but got 3, -2"),
    (dict(num_layers=0.5), TypeError, r"LocalRNN: num_layers should be of type int, got: float \(alpha is keyword-only"),
    (dict(num_layers=0), ValueError, r"LocalRNN: expected num_layers >= 1, but got 0"),
    (dict(bias=torch.zeros(5)), TypeError, r"LocalRNN: bias should be of type bool, got: Tensor"),
    (dict(dropout=-0.1), ValueError, r"LocalRNN: dropout should be a number in range \[0, 1\]"),
    (dict(init="xavier"), ValueError, r"LocalRNN: expected init to be one of \['papers', 'torch'\], but got 'xavier'"),
])
def test_local_rnn_constructor_errors(kwargs, exc, pattern):
    args = dict(input_size=3, hidden_size=5)
    args.update(kwargs)
    with pytest.raises(exc, match=pattern):
        LocalRNN(**args)


LOCAL_RNN_BAD_FORWARD = {  # case: (x, h0) from the net fixture's x (T, B, I) float64; nn.RNN must refuse it too
    "x 1-D": lambda x: (x[0, 0], None), "x 4-D": lambda x: (x[None], None), "x features": lambda x: (x[..., :2], None),
    "x int": lambda x: (x.long(), None), "x float32": lambda x: (x.float(), None), "T = 0": lambda x: (x[:0], None),
    "h0 layers": lambda x: (x, torch.zeros(2, B, n, dtype=DT)), "h0 batch": lambda x: (x, torch.zeros(1, B + 1, n, dtype=DT)),
    "h0 hidden": lambda x: (x, torch.zeros(1, B, n - 1, dtype=DT)), "h0 2-D": lambda x: (x, torch.zeros(B, n, dtype=DT)),
    "h0 3-D unbatched": lambda x: (x[:, 0], torch.zeros(1, 1, n, dtype=DT)), "h0 dtype": lambda x: (x, torch.zeros(1, B, n)),
}
# where nn.RNN's message comes from its own checks (not from its kernel), LocalRNN's is the same, after "LocalRNN: "
SAME_MESSAGE = {"x 1-D", "x 4-D", "x features", "x int", "x float32", "h0 layers", "h0 batch", "h0 hidden", "h0 2-D",
                "h0 3-D unbatched"}


@pytest.mark.parametrize("rule", ["bptt", "rflo"])
@pytest.mark.parametrize("case", list(LOCAL_RNN_BAD_FORWARD))
def test_local_rnn_forward_errors_are_nn_rnns(net, rule, case):
    """A forward nn.RNN refuses, LocalRNN refuses with the same exception type (and, for nn.RNN's own argument
    checks, its message prefixed with the class name)."""
    x, h0 = LOCAL_RNN_BAD_FORWARD[case](net["x"])
    with pytest.raises(Exception) as theirs:
        nn.RNN(I, n, dtype=DT)(x, h0)
    with pytest.raises(Exception) as ours:
        LocalRNN(I, n, alpha=0.5, rule=rule, dtype=DT)(x, h0)
    assert type(ours.value) is type(theirs.value), f"{case}: {ours.value!r} vs nn.RNN's {theirs.value!r}"
    if case in SAME_MESSAGE:
        want = str(theirs.value)
        assert str(ours.value) == "LocalRNN: " + (want[len("RNN: "):] if want.startswith("RNN: ") else want)


# ----------------------------------------------------------------------------- OnlineLearner
def learner(**kwargs):
    rnn = kwargs.pop("rnn", LocalRNN(I, n, alpha=0.5, rule="rflo", dtype=DT))
    readout = kwargs.pop("readout", nn.Linear(n, O, dtype=DT))
    return OnlineLearner(rnn, readout, **kwargs)


@pytest.mark.parametrize("make,exc,pattern", [
    (lambda: learner(rnn=nn.RNN(I, n)), TypeError, r"OnlineLearner: expected rnn to be a LocalRNN, but got RNN"),
    (lambda: learner(readout="linear"), TypeError, r"expected readout to be an nn.Module .* but got str"),
    (lambda: learner(loss=42), TypeError, r"expected loss to be one of .* or a callable .* but got int"),
    (lambda: learner(readout=nn.Identity(), rule=rules.DNI()), ValueError, r"rule 'dni' reads the labels"),
    (lambda: learner(optimizer_options={"betas": (0.9, 1.0)}, optimizer="adam"), ValueError,
     r"expected optimizer_options\['betas\[1\]'\] in \[0, 1\)"),
    (lambda: learner(optimizer="momentum", optimizer_options={"lr": 1}), ValueError, r"takes the options"),
    (lambda: learner(readout=nn.Linear(n + 1, O, dtype=DT)), ValueError,
     r"expected readout.in_features == rnn.hidden_size \(5\), but got 6"),
    (lambda: learner(optimizer="rmsprop"), ValueError, r"expected optimizer to be one of .*but got 'rmsprop'"),
    (lambda: learner(lr=-1.0), ValueError, r"expected lr to be a finite number >= 0, but got -1.0"),
    (lambda: learner(lr=float("nan")), ValueError, r"expected lr to be a finite number >= 0, but got nan"),
    (lambda: learner(lr=float("inf")), ValueError, r"expected lr to be a finite number >= 0, but got inf"),
    (lambda: learner(batch_size=0), ValueError, r"expected batch_size > 0, but got 0"),
    (lambda: learner(loss="nll"), ValueError, r"OnlineLearner: expected loss to be one of \('cross_entropy', 'mse', 'mse_mean'\), but got 'nll'"),
    (lambda: learner(rule="bptt"), ValueError, r"rule 'bptt' has no online form; rules with one: \[.*'rflo'.*\]"),
    (lambda: learner(rnn=LocalRNN(I, n, dtype=DT)), ValueError, r"rule 'bptt' has no online form"),
    (lambda: learner(rule="hebb"), ValueError, r"expected rule to be one of \[.*'rflo'.*\] or a rules config, but got 'hebb'"),
    (lambda: learner(rule=rules.RFLO(feedback=torch.zeros(n, O))), ValueError,
     r"expected the feedback matrix of shape \(output_size, hidden_size\) = \(3, 5\), but got \(5, 3\)"),
    (lambda: learner(rule=rules.RFLO(feedback=torch.zeros(O * n))), ValueError,
     r"expected the feedback matrix of shape .* = \(3, 5\), but got \(15,\)"),
])
def test_online_learner_constructor_errors(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


@pytest.mark.parametrize("method", ["fit", "evaluate"])
@pytest.mark.parametrize("case,exc,pattern", [pytest.param(*c, id=c[0]) for c in [
    ("x 1-D", ValueError, r"expected x \(T, input_size\) and y \(T, output_size\).*but got shapes \[4\] and \[4, 3\]"),
    ("rank mismatch", ValueError, r"expected x \(T, input_size\) .* but got shapes \[4, 2, 3\] and \[4, 3\]"),
    ("T = 0", ValueError, r"expected a non-empty sequence \(T > 0\), but got x of shape \[0, 2, 3\]"),
    ("y longer", ValueError, r"expected x and y to have the same \(T, B\) = \(4, 2\), but got y of shape \[8, 2, 3\]"),
    ("y shorter", ValueError, r"expected x and y to have the same \(T, B\) = \(4, 2\), but got y of shape \[3, 2, 3\]"),
    ("y streams", ValueError, r"expected x and y to have the same \(T, B\) = \(4, 2\), but got y of shape \[4, 1, 3\]"),
    ("x int", TypeError, r"expected x to be a floating-point tensor, but got torch.int64"),
    ("y int", TypeError, r"expected y to be a floating-point tensor, but got torch.int64"),
    ("x features", ValueError, r"expected x with input_size = 3 features, but got shape \[4, 2, 4\]"),
    ("y outputs", ValueError, r"expected y with output_size = 3 \(readout.out_features\) features, but got shape \[4, 2, 2\]"),
]])
def test_online_learner_data_errors_change_nothing(net, method, case, exc, pattern):
    L = learner(batch_size=B, lr=0.1)
    x, y = net["x"], net["y"]
    x, y = {"x 1-D": (x[:, 0, 0], y[:, 0]), "rank mismatch": (x, y[:, 0]), "T = 0": (x[:0], y[:0]),
            "y longer": (x, torch.cat([y, y])), "y shorter": (x, y[:3]), "y streams": (x, y[:, :1]),
            "x int": (x.long(), y), "y int": (x, y.long()), "x features": (torch.cat([x, x[..., :1]], -1), y),
            "y outputs": (x, y[..., :2])}[case]
    before = {k: v.clone() for k, v in L.state_dict().items()}
    with pytest.raises(exc, match=f"OnlineLearner.{method}: " + pattern):
        getattr(L, method)(x, y, chunk_size=1) if method == "fit" else L.evaluate(x, y)
    for k, v in L.state_dict().items():
        assert torch.equal(v, before[k]), f"a failed {method} changed {k}"


def test_online_learner_fit_stream_count_and_chunk_size(net):
    L = learner(batch_size=3)
    with pytest.raises(ValueError, match=r"expected 3 streams \(batch_size\), but got x of shape \[4, 2, 3\]"):
        L.fit(net["x"], net["y"])
    L = learner(batch_size=B)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match=rf"expected chunk_size to be a positive integer, but got {bad}"):
            L.fit(net["x"], net["y"], chunk_size=bad)


def test_online_learner_readout_dtype_mismatch(net):
    L = learner(readout=nn.Linear(n, O))  # float32 readout with a float64 rnn
    with pytest.raises(RuntimeError, match=r"expected weight_out to have the dtype of x \(Double\), but got Float"):
        L.fit(net["x"][:, :1], net["y"][:, :1])


# ----------------------------------------------------------------------------- rule configs
@pytest.mark.parametrize("kwargs,exc,pattern", [
    (dict(trace_alpha=-1), ValueError, r"RFLO: expected trace_alpha in \(0, 1\] or None, but got -1"),
    (dict(trace_alpha=0), ValueError, r"RFLO: expected trace_alpha in \(0, 1\] or None, but got 0"),
    (dict(trace_alpha=1.5), ValueError, r"RFLO: expected trace_alpha in \(0, 1\] or None, but got 1.5"),
    (dict(trace_alpha=float("nan")), ValueError, r"RFLO: expected trace_alpha in \(0, 1\] or None, but got nan"),
    (dict(feedback="transpose"), ValueError, r"RFLO: expected feedback to be 'symmetric', 'random' or a tensor, but got 'transpose'"),
    (dict(feedback=3), TypeError, r"RFLO: expected feedback to be a str or a tensor, but got int"),
])
def test_rule_config_errors(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        rules.RFLO(**kwargs)


def test_resolve_errors():
    with pytest.raises(ValueError, match=r"expected rule to be one of \['bptt', 'dni', 'dni_b', 'e_bptt', 'eprop', "
                                         r"'f_bptt', 'kernl', 'kf_rtrl', 'output_only', 'rflo', 'rkf_rtrl', 'rtrl', "
                                         r"'uoro'\] or a rules config, but got 'x'"):
        rules.resolve("x")
    with pytest.raises(TypeError, match=r"expected rule to be a rule name or a rules config, but got NoneType"):
        rules.resolve(None)
