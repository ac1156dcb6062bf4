"""Sequence forms (frozen weights, g_t = dL/da_t) of output_only, rtrl, f_bptt and e_bptt
(docs/algorithms.md §1, §3.1, §3.2, §3.9, §3.10): ops.leaky_rnn_rule_backward, ops.leaky_rnn(rule=...)
and LocalRNN(rule=...) against the exact gradient (autograd through the reference forward) and
the reference's explicit influence matrices / truncated autograd; grad_x and grad_h0 are the
one-step gradients for every rule."""
import pytest
import torch

from helpers import DT, TOL, assert_all_rel, assert_rel, leaves, problem, rel_err, strided, transposed, local_rnn
from torch_local_rnn import LocalRNN, ops, reference as R, rules

NAMES = ["x", "h0", "weight_hh", "weight_ih", "bias"]
NONLINEARITIES = ["tanh", "sigmoid", "relu"]
RTRL_TOL = 1e-9  # RTRL (forward accumulation) against BPTT (reverse accumulation): other rounding


def args(p):
    return p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"]


def rule_backward(p, alpha, nonlinearity, rule, options, grad_output=None):
    out, dphi = ops.leaky_rnn_forward(*args(p), alpha, nonlinearity)
    g = p["grad_output"] if grad_output is None else grad_output
    return ops.leaky_rnn_rule_backward(g, p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi, alpha, rule,
                                       options)


def bptt(p, alpha, nonlinearity):
    return R.bptt_grads(*args(p), alpha, nonlinearity, p["grad_output"])


def one_step(p, alpha, nonlinearity):
    return R.one_step_input_grads(*args(p), alpha, nonlinearity, p["grad_output"])


def reference(p, alpha, nonlinearity, rule, options):
    a = args(p) + (alpha, nonlinearity, p["grad_output"])
    if rule == "output_only":
        return R.output_only_sequence_grads(*a)
    if rule == "rtrl":
        return R.rtrl_sequence_grads(*a)
    if rule == "f_bptt":
        return R.f_bptt_sequence_grads(*a, int(options[0]))
    if rule == "e_bptt":
        return R.e_bptt_sequence_grads(*a, int(options[0]))
    raise ValueError(rule)


@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_rtrl_sequence_form_equals_bptt(alpha, nonlinearity, B):
    """§3.2: with frozen weights RTRL's sum_t q_t^T M_t is the exact gradient."""
    p = problem(T=25, B=B, I=3, n=5, seed=201)
    got = rule_backward(p, alpha, nonlinearity, "rtrl", [])
    exact = bptt(p, alpha, nonlinearity)
    assert_all_rel(got[2:], exact[2:], NAMES[2:], RTRL_TOL, f"rtrl vs bptt alpha={alpha} {nonlinearity} B={B}")
    assert_all_rel(got[:2], one_step(p, alpha, nonlinearity), NAMES[:2], TOL, "rtrl one-step input grads")
    # and the reference's explicit influence matrices
    assert_all_rel(got, reference(p, alpha, nonlinearity, "rtrl", []), NAMES, TOL, "rtrl vs reference")


@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid"])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
@pytest.mark.parametrize("rule,extra", [("f_bptt", 0), ("f_bptt", 6), ("e_bptt", 0), ("e_bptt", 6)])
def test_truncated_bptt_with_long_truncation_equals_bptt(rule, extra, alpha, nonlinearity, B):
    """F-BPTT(K) and E-BPTT(K) with K >= T: nothing is truncated, the weights get the BPTT gradient."""
    T = 21
    p = problem(T=T, B=B, I=3, n=5, seed=202)
    got = rule_backward(p, alpha, nonlinearity, rule, [float(T + extra)])
    exact = bptt(p, alpha, nonlinearity)
    assert_all_rel(got[2:], exact[2:], NAMES[2:], TOL, f"{rule}({T + extra}) vs bptt")
    assert_all_rel(got[:2], one_step(p, alpha, nonlinearity), NAMES[:2], TOL, f"{rule} one-step input grads")


@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
@pytest.mark.parametrize("K", [1, 3, 7, 22])
@pytest.mark.parametrize("rule", ["f_bptt", "e_bptt"])
def test_truncated_bptt_matches_reference(rule, K, alpha, nonlinearity, B):
    """Shorter truncation / window (T = 23 is no multiple of K: e_bptt's last window is partial)."""
    p = problem(T=23, B=B, I=3, n=5, seed=203)
    got = rule_backward(p, alpha, nonlinearity, rule, [float(K)])
    want = reference(p, alpha, nonlinearity, rule, [K])
    assert_all_rel(got, want, NAMES, TOL, f"{rule}({K}) alpha={alpha} {nonlinearity} B={B}")
    assert_all_rel(got[:2], one_step(p, alpha, nonlinearity), NAMES[:2], TOL, f"{rule} one-step input grads")
    if K <= 3:  # the truncation is real: not the BPTT gradient (longer ones can be close: sigmoid' <= 1/4)
        assert rel_err(got[2], bptt(p, alpha, nonlinearity)[2]) > 1e-4


def test_truncation_one_is_the_same_for_both_and_k_changes_the_estimate():
    """K = 1: both rules keep only the immediate term sum_t (g_t (.) alpha phi') ahat_t^T; and the estimate
    depends on K (the option reaches the kernel)."""
    p = problem(T=20, B=2, I=3, n=5, seed=204)
    f1 = rule_backward(p, 0.5, "tanh", "f_bptt", [1.0])
    e1 = rule_backward(p, 0.5, "tanh", "e_bptt", [1.0])
    assert_all_rel(f1, e1, NAMES, TOL, "K = 1")
    for rule in ("f_bptt", "e_bptt"):
        g3, g4 = (rule_backward(p, 0.5, "tanh", rule, [float(k)])[2] for k in (3, 4))
        assert rel_err(g3, g4) > 1e-4, rule


@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_output_only_sequence_form(alpha, B):
    p = problem(T=15, B=B, I=3, n=5, seed=205)
    got = rule_backward(p, alpha, "tanh", "output_only", [])
    for g, name, like in zip(got[2:], NAMES[2:], (p["weight_hh"], p["weight_ih"], p["bias"])):
        assert g.shape == like.shape and g.dtype == DT, name
        assert torch.count_nonzero(g) == 0, f"output_only {name} not zero"
    assert_all_rel(got[:2], one_step(p, alpha, "tanh"), NAMES[:2], TOL, "output_only one-step input grads")


CONFIGS = [("output_only", rules.OutputOnly(), []), ("rtrl", rules.RTRL(), []),
           ("f_bptt", rules.FBPTT(truncation=4), [4.0]), ("e_bptt", rules.EBPTT(window=5), [5.0])]


@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
@pytest.mark.parametrize("rule,config,options", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_rule_through_leaky_rnn_autograd(rule, config, options, layout):
    """The autograd op leaky_rnn(rule=...) gives the rule's gradients to all five inputs."""
    p = problem(T=17, B=3, I=3, n=5, seed=206)
    want = reference(p, 0.5, "sigmoid", rule, options)
    if layout == "contiguous":
        ins = leaves(*args(p))
    else:
        ins = [transposed(p["x"]), strided(p["h0"]), transposed(p["weight_hh"]), strided(p["weight_ih"]),
               strided(p["bias"])]
        ins = [t.requires_grad_(True) for t in ins]
    out = ops.leaky_rnn(*ins, 0.5, "sigmoid", rule, options)
    assert_rel(out, R.leaky_rnn_forward(*args(p), 0.5, "sigmoid"), 1e-13, "forward")
    got = torch.autograd.grad(out, ins, p["grad_output"])
    assert_all_rel(got, want, NAMES, TOL, f"leaky_rnn {rule} {layout}")


MODULE_RULES = [(name, config, name, options) for name, config, options in CONFIGS] + [
    ("rtrl by name", "rtrl", "rtrl", []), ("f_bptt by name (truncation 21)", "f_bptt", "f_bptt", [21.0]),
    ("e_bptt by name (window 20)", "e_bptt", "e_bptt", [20.0])]


@pytest.mark.parametrize("with_h0", [True, False])
@pytest.mark.parametrize("case,config,rule,options", MODULE_RULES, ids=[c[0] for c in MODULE_RULES])
def test_local_rnn_rule_gradients(case, config, rule, options, with_h0):
    """LocalRNN(rule=config or name): g_t = dL/da_t from a downstream readout and loss; the weights get the
    rule's estimate, x and h0 the one-step gradients."""
    T, B, I, n, O = 30, 2, 3, 6, 2
    p = problem(T=T, B=B, I=I, n=n, seed=207)
    if not with_h0:
        p["h0"] = torch.zeros_like(p["h0"])
    rnn = local_rnn(I, n, weights=p, alpha=0.5, rule=config, dtype=DT)
    assert rnn.rule_name == rule and rnn.rule_options == options
    readout = torch.nn.Linear(n, O, dtype=DT)
    target = torch.randn(T, B, O, dtype=DT)
    x, h0 = leaves(p["x"], p["h0"])
    out, h_n = rnn(x, h0.unsqueeze(0)) if with_h0 else rnn(x)
    out.retain_grad()
    (((readout(out) - target) ** 2).sum() + h_n.pow(2).sum()).backward()
    p["grad_output"] = out.grad.clone()
    want = reference(p, 0.5, "tanh", rule, options)
    got = [x.grad, h0.grad if with_h0 else None, rnn.weight_hh_l0.grad, rnn.weight_ih_l0.grad, rnn.bias_ih_l0.grad]
    for g, w, name in zip(got, want, NAMES):
        if g is not None:
            assert_rel(g, w, TOL, f"LocalRNN {case} {name}")
    if rule == "rtrl":  # and that is the exact gradient
        exact = bptt(p, 0.5, "tanh")
        assert_all_rel(got[2:], exact[2:], NAMES[2:], RTRL_TOL, "LocalRNN rtrl vs bptt")


def test_rule_backward_float32_close_to_float64_reference():
    p = problem(T=20, B=2, I=3, n=5, seed=208)
    p32 = {k: v.float() for k, v in p.items()}
    for rule, options in (("rtrl", []), ("f_bptt", [6.0]), ("e_bptt", [6.0])):
        got = rule_backward(p32, 0.5, "tanh", rule, options)
        assert all(g.dtype == torch.float32 for g in got)
        assert_all_rel(got, reference(p, 0.5, "tanh", rule, options), NAMES, 1e-5, f"float32 {rule}")


def test_rule_backward_does_not_change_inputs():
    p = problem(T=12, B=2, I=3, n=4, seed=209)
    before = {k: v.clone() for k, v in p.items()}
    for rule, options in (("rtrl", []), ("f_bptt", [3.0]), ("e_bptt", [5.0]), ("output_only", [])):
        rule_backward(p, 0.7, "tanh", rule, options)
        for k, v in p.items():
            assert torch.equal(v, before[k]), f"{rule} changed {k}"
