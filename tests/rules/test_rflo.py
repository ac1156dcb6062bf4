"""RFLO in sequence form (frozen weights): ops.leaky_rnn_rflo_backward, ops.leaky_rnn(rule="rflo")
and LocalRNN(rule="rflo") against the reference's step-by-step (B, n, m) trace recursion, and
the docs/design.md §3.4 identity (RFLO = autograd with a_{t-1} detached inside W_hh a_{t-1})."""
import pytest
import torch

from helpers import DT, TOL, assert_all_rel, assert_rel, leaves, problem, rel_err, strided, transposed, local_rnn
from torch_local_rnn import LocalRNN, ops, reference as R, rules

NAMES = ["x", "h0", "weight_hh", "weight_ih", "bias"]
NONLINEARITIES = ["tanh", "relu", "sigmoid"]


def reference(p, alpha, nonlinearity, trace_alpha=None, grad_output=None, with_h0=True):
    h0 = p["h0"] if with_h0 else torch.zeros_like(p["h0"])
    return R.rflo_sequence_grads(p["x"], h0, p["weight_hh"], p["weight_ih"], p["bias"], alpha, nonlinearity,
                                 p["grad_output"] if grad_output is None else grad_output, trace_alpha)


@pytest.mark.parametrize("trace_alpha", [None, 0.3, 1.0])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_rflo_backward_op(alpha, nonlinearity, B, trace_alpha):
    p = problem(T=40, B=B, I=3, n=6, seed=31)
    want = reference(p, alpha, nonlinearity, trace_alpha)
    out, dphi = ops.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha,
                                      nonlinearity)
    got = ops.leaky_rnn_rflo_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi,
                                      alpha, trace_alpha)
    assert_all_rel(got, want, NAMES, TOL, "rflo_backward")
    # every argument non-contiguous
    got = ops.leaky_rnn_rflo_backward(transposed(p["grad_output"]), transposed(p["x"]), strided(p["h0"]),
                                      transposed(p["weight_hh"]), strided(p["weight_ih"]), transposed(out),
                                      strided(dphi), alpha, trace_alpha)
    assert_all_rel(got, want, NAMES, TOL, "rflo_backward noncontiguous")


@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
@pytest.mark.parametrize("trace_alpha", [None, 0.3])
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_rflo_through_leaky_rnn_op(alpha, nonlinearity, trace_alpha, layout):
    p = problem(T=30, B=3, I=3, n=5, seed=32)
    want = reference(p, alpha, nonlinearity, trace_alpha)
    if layout == "contiguous":
        ins = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    else:
        ins = [transposed(p["x"]), strided(p["h0"]), transposed(p["weight_hh"]), strided(p["weight_ih"]),
               strided(p["bias"])]
        ins = [t.requires_grad_(True) for t in ins]
    options = [] if trace_alpha is None else [trace_alpha]
    out = ops.leaky_rnn(*ins, alpha, nonlinearity, "rflo", options)
    got = torch.autograd.grad(out, ins, p["grad_output"])
    assert_all_rel(got, want, NAMES, TOL, "leaky_rnn rflo")


@pytest.mark.parametrize("with_h0", [True, False])
@pytest.mark.parametrize("rule", ["rflo", "config_default", "config_trace"])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_local_rnn_rflo_gradients(alpha, B, rule, with_h0):
    """g_t = dL/da_t comes from autograd through a downstream readout and loss; the weights get
    RFLO's estimate from g, the input and h0 the one-step gradients."""
    T, I, n, O = 35, 3, 6, 2
    p = problem(T=T, B=B, I=I, n=n, seed=33)
    trace_alpha = {"rflo": None, "config_default": None, "config_trace": 0.25}[rule]
    rule_arg = {"rflo": "rflo", "config_default": rules.RFLO(), "config_trace": rules.RFLO(trace_alpha=0.25)}[rule]
    rnn = local_rnn(I, n, weights=p, alpha=alpha, nonlinearity="tanh", rule=rule_arg, dtype=DT)
    readout = torch.nn.Linear(n, O, dtype=DT)
    target = torch.randn(T, B, O, dtype=DT)
    x, h0 = leaves(p["x"], p["h0"])
    out, h_n = rnn(x, h0.unsqueeze(0)) if with_h0 else rnn(x)
    out.retain_grad()
    loss = ((readout(out) - target) ** 2).sum() + h_n.pow(2).sum()
    loss.backward()
    g = out.grad.clone()  # dL/da_t, including the h_n = a_T term
    assert rel_err(g[-1], 2 * h_n[0].detach() + 2 * (readout(out[-1]) - target[-1]) @ readout.weight) < 1e-12
    want = reference(p, alpha, "tanh", trace_alpha, grad_output=g, with_h0=with_h0)
    got = [x.grad, h0.grad if with_h0 else None, rnn.weight_hh_l0.grad, rnn.weight_ih_l0.grad, rnn.bias_ih_l0.grad]
    for got_, want_, name in zip(got, want, NAMES):
        if got_ is not None:
            assert_rel(got_, want_, TOL, f"LocalRNN rflo {name}")
    # the readout itself gets its exact gradient from autograd: compare with a pure-torch copy
    a = R.leaky_rnn_forward(p["x"], p["h0"] if with_h0 else None, p["weight_hh"], p["weight_ih"], p["bias"], alpha,
                            "tanh")
    W_o, b_o = leaves(readout.weight, readout.bias)
    ref_loss = ((a @ W_o.T + b_o - target) ** 2).sum()
    for got_, want_ in zip((readout.weight.grad, readout.bias.grad), torch.autograd.grad(ref_loss, [W_o, b_o])):
        assert_rel(got_, want_, TOL, "readout")


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.2])
def test_rflo_equals_detached_recurrent_autograd(alpha, nonlinearity):
    """docs/design.md §3.4: with trace_alpha = alpha, RFLO's weight gradients equal autograd of a
    forward where a_{t-1} is detached inside W_hh a_{t-1} only (the leak term stays attached)."""
    p = problem(T=40, B=3, I=3, n=6, seed=34)
    W, U, b = leaves(p["weight_hh"], p["weight_ih"], p["bias"])
    ref = R.leaky_rnn_forward(p["x"], p["h0"], W, U, b, alpha, nonlinearity, detach_recurrent=True)
    want = torch.autograd.grad(ref, [W, U, b], p["grad_output"])
    ins = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    out = ops.leaky_rnn(*ins, alpha, nonlinearity, "rflo")
    got = torch.autograd.grad(out, ins[2:], p["grad_output"])
    assert_all_rel(got, want, NAMES[2:], TOL, "docs/design.md §3.4 identity")
    rnn = local_rnn(3, 6, weights=p, alpha=alpha, nonlinearity=nonlinearity, rule="rflo", dtype=DT)
    out, _ = rnn(p["x"], p["h0"][None])
    got = torch.autograd.grad(out, [rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0], p["grad_output"])
    assert_all_rel(got, want, NAMES[2:], TOL, "docs/design.md §3.4 identity, LocalRNN")


def test_rflo_trace_alpha_matters_and_differs_from_bptt():
    """Sanity that the checks can fail: RFLO with alpha < 1 is not BPTT, and trace_alpha changes it."""
    p = problem(T=30, B=2, I=3, n=6, seed=35)
    grads = {}
    for key, rule, options in (("bptt", "bptt", []), ("rflo", "rflo", []), ("rflo_k", "rflo", [0.2])):
        ins = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
        out = ops.leaky_rnn(*ins, 0.5, "tanh", rule, options)
        grads[key] = torch.autograd.grad(out, ins, p["grad_output"])
    assert rel_err(grads["rflo"][2], grads["bptt"][2]) > 1e-3
    assert rel_err(grads["rflo_k"][2], grads["rflo"][2]) > 1e-3
    # but the forward outputs of both rules are identical
    ins = (p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    assert torch.equal(ops.leaky_rnn(*ins, 0.5, "tanh", "bptt"), ops.leaky_rnn(*ins, 0.5, "tanh", "rflo"))


def test_rflo_one_step_equals_bptt():
    """With T = 1 there is no recurrence to truncate; with trace_alpha = alpha RFLO is exact."""
    p = problem(T=1, B=3, I=3, n=5, seed=36)
    for alpha in (1.0, 0.4):
        ins = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
        want = torch.autograd.grad(R.leaky_rnn_forward(*ins, alpha, "tanh"), ins, p["grad_output"])
        ins = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
        got = torch.autograd.grad(ops.leaky_rnn(*ins, alpha, "tanh", "rflo"), ins, p["grad_output"])
        assert_all_rel(got, want, NAMES, TOL, f"T=1 alpha={alpha}")


def test_rflo_float32_close_to_float64_reference():
    p = problem(T=30, B=3, I=3, n=8, seed=37)
    want = reference(p, 0.5, "tanh", 0.3)
    ins = [t.float().requires_grad_(True) for t in (p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])]
    out = ops.leaky_rnn(*ins, 0.5, "tanh", "rflo", [0.3])
    assert_all_rel(torch.autograd.grad(out, ins, p["grad_output"].float()), want, NAMES, 1e-5, "float32")
