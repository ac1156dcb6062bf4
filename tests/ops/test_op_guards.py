"""Regression guards of the op layer for the faults an adversarial pass found (what tests/ops/test_opcheck.py does
not already cover: it checks the version counters of every written argument, no grad_fn with every input requiring
grad, and the fakes against the kernels for a list of broken arguments):

* B: an op that writes a tensor autograd saved makes the backward fail (the in-place modification error), and a
  written argument that requires grad is refused, naming it;
* C: outputs without grad_fn when only x requires grad, and online_learn's losses under enable_grad;
* D: the fakes check rule_tensors (count and shapes) and the float32 step-counter limits as the kernels do;
* the float32 counters (f_bptt / e_bptt ring index, DNI refresh, KeRNL reset) are refused beyond 2^24.
"""
import re

import pytest
import torch

from helpers import DT, generator, randn, soft_targets
from property_helpers import to_meta
from torch_local_rnn import ops, rules

OPS = torch.ops.torch_local_rnn
T, B, I, N, O = 3, 2, 2, 4, 2


def online_args(rule="rflo", dtype=DT, cfg=None, **change):
    """online_learn's arguments by schema name (fresh tensors: the op writes hidden, the weights and state)."""
    cfg = cfg or rules.resolve(rule)
    g = generator(1)
    a = dict(rule=cfg.name, x=randn(T, B, I, gen=g, dtype=dtype), y=soft_targets(T, B, O, g, dtype=dtype),
             hidden=torch.zeros(B, N, dtype=dtype), weight_hh=randn(N, N, gen=g, scale=0.4, dtype=dtype),
             weight_ih=randn(N, I, gen=g, dtype=dtype), bias=torch.zeros(N, dtype=dtype),
             weight_out=randn(O, N, gen=g, scale=0.5, dtype=dtype), bias_out=torch.zeros(O, dtype=dtype),
             state=None if "state" in change else list(
                 cfg.online_state(B, N, I, outputs=O, generator=g, dtype=dtype).values()), rec_grad=None,
             feedback=None, alpha=1.0, nonlinearity="tanh", loss="mse", lr=0.5,
             rule_options=[] if cfg.name == "eprop" else cfg.online_options(1.0),
             rule_tensors=cfg.noise(T, B, N, g, dtype=dtype), record=None, l2=0.0)
    a.update(change)
    return a


def first_line(error) -> str:
    return str(error.value).splitlines()[0]




# ----------------------------------------------------------------------------- B: writes are visible to autograd
def test_backward_through_a_tensor_an_op_wrote_fails():
    """A graph saved W; online_learn then updates W (through W.detach(), which shares its storage): the backward
    must refuse, not silently use the new values."""
    W = torch.randn(O, N, dtype=DT, requires_grad=True)
    loss = (W * W).sum()
    version = W._version
    ops.online_learn(**online_args(weight_out=W.detach()))
    assert W._version > version, "the write did not bump the version counter"
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("name", ["hidden", "weight_hh", "weight_out", "bias_out", "state", "rec_grad", "record"])
@pytest.mark.parametrize("leaf", [True, False], ids=["leaf", "non-leaf"])
def test_written_arguments_may_not_require_grad(name, leaf):
    a = online_args("dni" if name == "record" else "rflo")
    if name == "rec_grad":
        a["rec_grad"] = torch.zeros(N, N + I + 1, dtype=DT)
    if name == "record":
        a["record"] = torch.zeros(T, B, 4, N, dtype=DT)

    def grad(t):
        t = t.detach().clone().requires_grad_(True)
        return t if leaf else t * 1.0

    a[name] = [grad(t) for t in a[name]] if name == "state" else grad(a[name])
    before = {k: v.detach().clone() for k, v in a.items() if isinstance(v, torch.Tensor)}
    with pytest.raises(RuntimeError) as error:
        ops.online_learn(**a)
    assert first_line(error) == (f"online_learn: expected {name} not to require grad (the op writes it in place and "
                                 f"has no derivative), but got a tensor that requires grad{' (a leaf)' if leaf else ''}"
                                 f"; pass it detached (.detach())")
    for k, v in before.items():
        assert torch.equal(a[k].detach(), v), f"a refused call changed {k}"
    # rflo_online writes the same arguments
    if name in ("hidden", "weight_out"):
        b = online_args("rflo")
        b[name] = grad(b[name])
        with pytest.raises(RuntimeError, match=rf"rflo_online: expected {name} not to require grad"):
            ops.rflo_online(b["x"], b["y"], b["hidden"], b["state"][0], b["weight_hh"], b["weight_ih"], b["bias"],
                            b["weight_out"], b["bias_out"], None, 1.0, 1.0, "tanh", "mse", 0.5)


# ----------------------------------------------------------------------------- C: no grad_fn
def test_outputs_have_no_grad_fn_when_only_x_requires_grad():
    a = online_args()
    x = a["x"].clone().requires_grad_(True)
    out, dphi = ops.leaky_rnn_forward(x, a["hidden"], a["weight_hh"], a["weight_ih"], a["bias"], 1.0, "tanh")
    assert not out.requires_grad and out.grad_fn is None and dphi.grad_fn is None
    with torch.enable_grad():
        losses = ops.online_learn(**dict(a, x=x, y=a["y"].clone().requires_grad_(True)))
    assert not losses.requires_grad and losses.grad_fn is None
    # the differentiable op keeps its graph
    states = ops.leaky_rnn(x, a["hidden"], a["weight_hh"], a["weight_ih"], a["bias"], 1.0, "tanh", "rflo", [1.0])
    assert states.requires_grad and states.grad_fn is not None


# ----------------------------------------------------------------------------- D: the fakes check rule_tensors
RULE_TENSOR_CASES = [
    ("uoro", lambda t, a: [], r"rule 'uoro' expects rule_tensors = \[noise \(seq_len, batch, hidden_size\)\], "
                              r"but got 0 tensors"),
    ("uoro", lambda t, a: [t[0][:, :, :-1].contiguous()], r"rule_tensors\[0\] \(uoro noise nu\) of shape"),
    ("uoro", lambda t, a: [t[0][:-1].contiguous()], r"rule_tensors\[0\] \(uoro noise nu\) of shape"),
    ("kf_rtrl", lambda t, a: [t[0][..., None]], r"expected rule_tensors\[0\] \(kf_rtrl noise nu\) to be 3-D"),
    ("rkf_rtrl", lambda t, a: [t[0].float()], r"rule_tensors\[0\] \(rkf_rtrl noise nu\) to have the dtype of x"),
    ("kernl", lambda t, a: t + t, r"rule 'kernl' expects rule_tensors = \[noise \(seq_len, batch, hidden_size\)\]"),
    ("kernl", lambda t, a: [t[0][:, :1].contiguous()], r"rule_tensors\[0\] \(kernl noise\) of shape"),
    ("dni", lambda t, a: [torch.zeros(T, B, N + 1, dtype=DT)], r"rule_tensors\[0\] \(dni credit\) of shape"),
    ("dni_b", lambda t, a: [torch.zeros(T, B, N, dtype=DT)] * 2, r"rule 'dni_b' expects rule_tensors = \[\] or"),
    ("rtrl", lambda t, a: [torch.zeros(T, B, N, dtype=DT)], r"rule 'rtrl' takes no rule_tensors, but got 1 tensors"),
]


@pytest.mark.parametrize("rule,change,pattern", RULE_TENSOR_CASES)
def test_fake_online_learn_checks_rule_tensors_as_the_kernel(rule, change, pattern):
    a = online_args(rule)
    a["rule_tensors"] = change(a["rule_tensors"], a)
    with pytest.raises(RuntimeError) as real:
        OPS.online_learn(**a)
    with pytest.raises(RuntimeError) as fake:
        OPS.online_learn(**{k: to_meta(v) for k, v in a.items()})
    assert re.search(pattern, first_line(real)), first_line(real)
    assert first_line(fake) == first_line(real)


@pytest.mark.parametrize("rule,tensors,pattern", [
    ("uoro", lambda n: [torch.zeros(T, B, n + 1, dtype=DT)], r"rule_tensors\[0\] \(uoro noise nu\) of shape"),
    ("kf_rtrl", lambda n: [], r"rule 'kf_rtrl' expects rule_tensors = \[noise \(seq_len, batch, 2\)\]"),
    ("kernl", lambda n: [torch.eye(n, dtype=DT)], r"rule 'kernl' expects rule_tensors = \[A \(hidden_size, "),
    ("kernl", lambda n: [torch.eye(n, dtype=DT), torch.ones(n + 1, dtype=DT)], r"rule_tensors\[1\] \(kernl rates\)"),
    ("e_bptt", lambda n: [torch.zeros(1, dtype=DT)], r"rule 'e_bptt' takes no rule_tensors"),
])
def test_fake_rule_backward_checks_rule_tensors_as_the_kernel(rule, tensors, pattern):
    a = online_args()
    x, h0, W, U, b = a["x"], a["hidden"], a["weight_hh"], a["weight_ih"], a["bias"]
    out, dphi = ops.leaky_rnn_forward(x, h0, W, U, b, 1.0, "tanh")
    args = (torch.ones_like(out), x, h0, W, U, out, dphi, 1.0, rule, [2.0] if rule == "e_bptt" else [], tensors(N))
    with pytest.raises(RuntimeError) as real:
        OPS.leaky_rnn_rule_backward(*args)
    with pytest.raises(RuntimeError) as fake:
        OPS.leaky_rnn_rule_backward(*[to_meta(v) for v in args])
    assert re.search(pattern, first_line(real)), first_line(real)
    assert first_line(fake) == first_line(real)


# ----------------------------------------------------------------------------- float32 step counters
def _library_checks_counters() -> bool:
    """Whether the loaded library refuses the float32 counters beyond 2^24 (csrc/common/online_checks.h
    check_counter_range): a library built before that check runs these calls."""
    a = online_args(cfg=rules.DNI(fix_interval=2 ** 24 + 1), dtype=torch.float32)
    a["state"][4].copy_(a["y"][0])
    try:
        ops.online_learn(**a)
    except RuntimeError as error:
        return "2^24" in str(error)
    return False


needs_counter_check = pytest.mark.skipif(not _library_checks_counters(),
                                         reason="the loaded libtorch_local_rnn.so predates check_counter_range "
                                                "(rebuild it)")

COUNTER_CASES = [
    (rules.DNI(fix_interval=2 ** 24 + 1), r"state\[5\] \(dni count\) counts up to 16777217 \(fix_interval\)"),
    (rules.DNIb(fix_interval=2 ** 25), r"state\[5\] \(dni_b count\) counts up to 33554432 \(fix_interval\)"),
    (rules.KeRNL(reset_interval=2 ** 24 + 1), r"state\[7\] \(kernl count\) counts up to 16777217 \(reset_interval\)"),
    (rules.FBPTT(truncation=2 ** 23 + 1),
     r"state\[3\] \(f_bptt count\) counts up to 16777218 \(twice the truncation\)"),
]


@needs_counter_check
@pytest.mark.parametrize("cfg,pattern", COUNTER_CASES, ids=["dni", "dni_b", "kernl", "f_bptt"])
def test_float32_counters_beyond_2_24_are_refused(cfg, pattern):
    """float32 holds the integers only up to 2^24: count + 1 would round back to count and the ring index, the
    refresh or the reset would stop silently. float64 runs; float32 within the limit runs."""
    if cfg.name == "f_bptt":  # ring buffers of 2^23 + 1 steps: the smallest network (168 MB of float32)
        g = generator(2)
        x, y = randn(1, 1, 1, gen=g, dtype=torch.float32), torch.ones(1, 1, 1, dtype=torch.float32)
        a = dict(online_args(cfg=cfg, dtype=torch.float32, state=[]), x=x, y=y, hidden=torch.zeros(1, 1),
                 weight_hh=torch.ones(1, 1), weight_ih=torch.ones(1, 1), bias=torch.zeros(1),
                 weight_out=torch.ones(1, 1), bias_out=torch.zeros(1))
        a["state"] = list(cfg.online_state(1, 1, 1, dtype=torch.float32).values())
    else:
        a = online_args(cfg=cfg, dtype=torch.float32)
    if cfg.name.startswith("dni"):
        a["state"][4].copy_(a["y"][0])
    before = [t.clone() for t in a["state"]] + [a["hidden"].clone(), a["weight_hh"].clone()]
    with pytest.raises(RuntimeError) as real:
        OPS.online_learn(**a)
    message = first_line(real)
    assert re.search(r"online_learn: " + pattern + r" in x's dtype, but float32 holds integers exactly only up to "
                     r"2\^24 = 16777216; use float64", message), message
    for t, b in zip(a["state"] + [a["hidden"], a["weight_hh"]], before):
        assert torch.equal(t, b)
    with pytest.raises(RuntimeError) as fake:
        OPS.online_learn(**{k: to_meta(v) for k, v in a.items()})
    assert first_line(fake) == message
    if cfg.name != "f_bptt":  # (f_bptt's float64 ring buffers of 2^23 steps: not in the fast tier)
        ops.online_learn(**online_args(cfg=cfg, dtype=DT))


def test_fake_refuses_float32_counters_beyond_2_24():
    """The fake's half of the guard above, on meta tensors (runs whatever library is loaded)."""
    for cfg, pattern in COUNTER_CASES:
        a = {k: to_meta(v) for k, v in online_args(cfg=cfg, dtype=torch.float32, state=[]).items()}
        a["state"] = list(cfg.online_state(B, N, I, outputs=O, dtype=torch.float32, device="meta").values())
        with pytest.raises(RuntimeError, match=r"online_learn: " + pattern):
            OPS.online_learn(**a)
    within = online_args(cfg=rules.DNI(fix_interval=2 ** 24), dtype=torch.float32)
    assert OPS.online_learn(**{k: to_meta(v) for k, v in within.items()}).shape == (T, B)
