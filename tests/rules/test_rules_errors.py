"""Bad options, states and rule tensors of every rule: the rules config level
(ValueError), the op level (RuntimeError naming the option or state tensor; a failed online call
changes nothing) and the module level (unknown rule names list the known ones)."""
import re

import pytest
import torch
from torch import nn

from helpers import DT, problem
from torch_local_rnn import LocalRNN, OnlineLearner, rules

OPS = torch.ops.torch_local_rnn
T, B, I, n, O = 6, 2, 3, 5, 3
m = n + I + 1
ALL_RULES = ("['bptt', 'dni', 'dni_b', 'e_bptt', 'eprop', 'f_bptt', 'kernl', 'kf_rtrl', 'output_only', 'rflo', "
             "'rkf_rtrl', 'rtrl', 'uoro']")
ONLINE_RULES = ("['dni', 'dni_b', 'e_bptt', 'eprop', 'f_bptt', 'kernl', 'kf_rtrl', 'output_only', 'rflo', "
                "'rkf_rtrl', 'rtrl', 'uoro']")


@pytest.fixture
def net():
    p = problem(T, B, I, n, seed=241)
    p["y"] = torch.softmax(torch.randn(T, B, O, dtype=DT), -1)
    p["weight_out"] = torch.randn(O, n, dtype=DT) / n ** 0.5
    p["bias_out"] = torch.zeros(O, dtype=DT)
    out, dphi = OPS.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 0.5, "tanh")
    p["output"], p["dphi"] = out, dphi
    return p


# ----------------------------------------------------------------------------- config level
@pytest.mark.parametrize("make,pattern", [
    (lambda: rules.FBPTT(truncation=0), r"FBPTT: expected truncation to be an integer >= 1, but got 0"),
    (lambda: rules.FBPTT(truncation=-3), r"FBPTT: expected truncation to be an integer >= 1, but got -3"),
    (lambda: rules.FBPTT(truncation=2.5), r"FBPTT: expected truncation to be an integer >= 1, but got 2.5"),
    (lambda: rules.FBPTT(truncation=True), r"FBPTT: expected truncation to be an integer >= 1, but got True"),
    (lambda: rules.FBPTT(truncation="5"), r"FBPTT: expected truncation to be an integer >= 1, but got '5'"),
    (lambda: rules.EBPTT(window=-1), r"EBPTT: expected window to be an integer >= 1, but got -1"),
    (lambda: rules.EBPTT(window=0), r"EBPTT: expected window to be an integer >= 1, but got 0"),
    (lambda: rules.EBPTT(window=1.5), r"EBPTT: expected window to be an integer >= 1, but got 1.5"),
])
def test_rule_config_option_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_rule_config_defaults_and_options():
    assert rules.FBPTT().truncation == 21 and rules.EBPTT().window == 20
    assert rules.FBPTT(truncation=1).sequence_options(0.5) == [1.0]
    assert rules.EBPTT(window=100).online_options(1.0) == [100.0]
    assert rules.RTRL().sequence_options(0.5) == [] and rules.OutputOnly().online_options(0.5) == []
    state = rules.FBPTT(truncation=4).online_state(2, 5, 3, dtype=DT)
    assert list(state) == ["dphi_history", "input_history", "credit_history", "count"]
    assert [tuple(v.shape) for v in state.values()] == [(4, 2, 5), (4, 2, 9), (4, 2, 5), (1,)]
    assert tuple(rules.RTRL().online_state(2, 5, 3)["influence"].shape) == (2, 5, 45)
    assert rules.OutputOnly().online_state(2, 5, 3) == {}


# ----------------------------------------------------------------------------- op level: rule_options
OPTION_CASES = [
    ("f_bptt", [0.0], r"expected truncation \(rule_options\[0\] of rule 'f_bptt'\) to be an integer >= 1, but got 0"),
    ("f_bptt", [1.5], r"expected truncation \(rule_options\[0\] of rule 'f_bptt'\) to be an integer >= 1, but got 1.5"),
    ("f_bptt", [-2.0], r"expected truncation .*integer >= 1, but got -2"),
    ("f_bptt", [float("nan")], r"expected truncation .*integer >= 1, but got nan"),
    ("f_bptt", [float("inf")], r"expected truncation .*integer >= 1, but got inf"),
    ("f_bptt", [], r"rule 'f_bptt' takes rule_options = \[truncation\] or \[truncation, legacy_alpha_omission\], "
                   r"but got 0 values"),
    ("f_bptt", [3.0, 4.0], r"expected legacy_alpha_omission \(rule_options\[1\] of rule 'f_bptt'\) to be 0 or 1, "
                           r"but got 4"),
    ("f_bptt", [3.0, 1.0, 1.0], r"rule 'f_bptt' takes rule_options = .*, but got 3 values"),
    ("e_bptt", [0.0], r"expected window \(rule_options\[0\] of rule 'e_bptt'\) to be an integer >= 1, but got 0"),
    ("e_bptt", [1.5], r"expected window \(rule_options\[0\] of rule 'e_bptt'\) to be an integer >= 1, but got 1.5"),
    ("e_bptt", [], r"rule 'e_bptt' takes rule_options = \[window\] or \[window, legacy_alpha_omission\], "
                   r"but got 0 values"),
    ("e_bptt", [2.0, 2.0], r"expected legacy_alpha_omission \(rule_options\[1\] of rule 'e_bptt'\) to be 0 or 1"),
    ("rtrl", [0.5], r"expected legacy_alpha_omission \(rule_options\[0\] of rule 'rtrl'\) to be 0 or 1, but got 0.5"),
    ("rtrl", [1.0, 0.0], r"rule 'rtrl' takes rule_options = \[\] or \[legacy_alpha_omission\], but got 2 values"),
    ("uoro", [0.0, 1.0], r"rule 'uoro' takes rho0 and rho1 together"),
    ("uoro", [0.0, -1.0, 1.0], r"expected rho0 \(rule_options\[1\] of rule 'uoro'\) to be a finite number >= 0, "
                               r"but got -1"),
    ("uoro", [0.0, 1.0, 1.0, -1e-3], r"expected epsilon \(rule_options\[3\] of rule 'uoro'\)"),
    ("kf_rtrl", [0.0, 1.0, 1.0, 1e-3], r"rule 'kf_rtrl' takes rule_options = \[\] or \[legacy_alpha_omission\] or "
                                       r"\[legacy_alpha_omission, rho0, rho1\], but got 4 values"),
    ("rkf_rtrl", [2.0], r"expected legacy_alpha_omission \(rule_options\[0\] of rule 'rkf_rtrl'\) to be 0 or 1"),
    ("kernl", [-1e-5, 5.0, 0.0], r"expected sigma \(rule_options\[0\] of rule 'kernl'\) to be a finite number >= 0, "
                                 r"but got -1e-05"),
    ("kernl", [1e-5, -5.0, 0.0], r"expected lr \(rule_options\[1\] of rule 'kernl'\)"),
    ("kernl", [1e-5, 5.0, 2.5], r"expected reset_interval \(rule_options\[2\] of rule 'kernl'\) to be an integer"),
    ("kernl", [1e-5], r"rule 'kernl' takes rule_options = \[\] or \[sigma, lr, reset_interval\] or \[sigma, lr, "
                      r"reset_interval, version, learned_alpha_e\], but got 1 values"),
    ("kernl", [1e-5, 1.0, 0, 3, 0], r"expected version \(rule_options\[3\] of rule 'kernl'\) to be 0 \(2020\), 1 "
                                    r"\(2019, approximate kernel\) or 2 \(2019, exact kernel\), but got 3"),
    ("output_only", [1.0, 2.0], r"rule 'output_only' takes rule_options = \[\], but got 2 values"),
]


@pytest.mark.parametrize("rule,options,pattern", OPTION_CASES)
def test_rule_backward_option_errors(net, rule, options, pattern):
    p = net
    with pytest.raises(RuntimeError, match="leaky_rnn_rule_backward: .*" + pattern):
        OPS.leaky_rnn_rule_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["output"],
                                    p["dphi"], 0.5, rule, options, good_tensors(rule))


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("rule,options,pattern", OPTION_CASES)
def test_leaky_rnn_option_errors(net, rule, options, pattern, requires_grad):
    """Reported by the forward already (not first at backward)."""
    p = net
    W = p["weight_hh"].clone().requires_grad_(requires_grad)
    with pytest.raises(RuntimeError, match="leaky_rnn: .*" + pattern):
        OPS.leaky_rnn(p["x"], p["h0"], W, p["weight_ih"], p["bias"], 0.5, "tanh", rule, options, good_tensors(rule))


def online_args(p, rule, state, options, **change):
    a = dict(rule=rule, x=p["x"], y=p["y"], hidden=p["h0"], weight_hh=p["weight_hh"], weight_ih=p["weight_ih"],
             bias=p["bias"], weight_out=p["weight_out"], bias_out=p["bias_out"], state=state, rec_grad=None,
             feedback=None, alpha=0.5, nonlinearity="tanh", loss="cross_entropy", lr=0.1, rule_options=options,
             rule_tensors=good_tensors(rule, online=True))
    a.update(change)
    return a


CONFIGS = {"output_only": rules.OutputOnly(), "rtrl": rules.RTRL(), "f_bptt": rules.FBPTT(truncation=3),
           "e_bptt": rules.EBPTT(window=3), "uoro": rules.UORO(), "kf_rtrl": rules.KFRTRL(),
           "rkf_rtrl": rules.RKFRTRL(), "kernl": rules.KeRNL(), "dni": rules.DNI(), "dni_b": rules.DNIb()}


def good_state(rule):
    """A valid state for the rule (truncation / window 3): the option errors come first anyway."""
    return list(CONFIGS[rule].online_state(B, n, I, outputs=O, dtype=DT).values())


def good_tensors(rule, online=False):
    """Valid rule_tensors: the noise of the stochastic rules, KeRNL's A and rates in sequence form."""
    if rule == "kernl" and not online:
        return list(rules.KeRNL().sequence_tensors(n, dtype=DT).values())
    return CONFIGS[rule].noise(T, B, n, torch.Generator().manual_seed(0), dtype=DT) if rule in CONFIGS else []


def assert_unchanged(p, before):
    for k, v in before.items():
        assert torch.equal(p[k], v), f"a failed call changed {k}"


MUTABLE = ["h0", "weight_hh", "weight_ih", "bias", "weight_out", "bias_out"]


@pytest.mark.parametrize("rule,options,pattern", OPTION_CASES)
def test_online_learn_option_errors(net, rule, options, pattern):
    p = net
    before = {k: p[k].clone() for k in MUTABLE}
    with pytest.raises(RuntimeError, match="online_learn: .*" + pattern):
        OPS.online_learn(**online_args(p, rule, good_state(rule), options))
    assert_unchanged(p, before)


def zeros(*shape):
    return torch.zeros(*shape, dtype=DT)


STATE_CASES = [
    ("rtrl", [], lambda: [zeros(B, n, n * m + 1)], r"state\[0\] \(rtrl influence\)"),
    ("rtrl", [], lambda: [zeros(B + 1, n, n * m)], r"state\[0\] \(rtrl influence\)"),
    ("rtrl", [], lambda: [zeros(B, n, n * m).float()], r"state\[0\] \(rtrl influence\)"),
    ("rtrl", [], lambda: [zeros(B, n * m, n).transpose(1, 2)],
     r"expected state\[0\] \(rtrl influence\) to be contiguous"),
    ("rtrl", [], lambda: [], r"rule 'rtrl' expects state = \[influence .*\], but got 0 tensors"),
    ("rtrl", [], lambda: [zeros(B, n, n * m)] * 2, r"rule 'rtrl' expects state = \[influence .*\], but got 2 tensors"),
    ("output_only", [], lambda: [zeros(B, n, m)], r"rule 'output_only' expects state = \[\], but got 1 tensors"),
    ("f_bptt", [3.0], lambda: [zeros(4, B, n), zeros(3, B, m), zeros(3, B, n), zeros(1)],
     r"state\[0\] \(f_bptt dphi_history\)"),
    ("f_bptt", [3.0], lambda: [zeros(3, B, n), zeros(3, B, m - 1), zeros(3, B, n), zeros(1)],
     r"state\[1\] \(f_bptt input_history\)"),
    ("f_bptt", [3.0], lambda: [zeros(3, B, n), zeros(3, B, m), zeros(3, 1, n), zeros(1)],
     r"state\[2\] \(f_bptt credit_history\)"),
    ("f_bptt", [3.0], lambda: [zeros(3, B, n), zeros(3, B, m), zeros(3, B, n), zeros(2)],
     r"state\[3\] \(f_bptt count\)"),
    ("f_bptt", [3.0], lambda: [zeros(3, B, n), zeros(3, B, m), zeros(3, B, n)],
     r"rule 'f_bptt' expects state = \[dphi_history, input_history, credit_history, count\], but got 3 tensors"),
    ("e_bptt", [3.0], lambda: [zeros(3, B, n), zeros(3, B, m), zeros(3, B, n + 1), zeros(1)],
     r"state\[2\] \(e_bptt credit_history\)"),
    ("e_bptt", [3.0], lambda: [zeros(3, B, n), zeros(3, B, m), zeros(3, B, n), zeros(1, 1)],
     r"state\[3\] \(e_bptt count\)"),
    ("e_bptt", [3.0], lambda: [zeros(3, B, n), zeros(3, B, m), zeros(3, B, n), zeros(1), zeros(1)],
     r"rule 'e_bptt' expects state = \[.*\], but got 5 tensors"),
    ("uoro", [], lambda: [zeros(B, n), zeros(B, n, m - 1)], r"state\[1\] \(uoro B\)"),
    ("uoro", [], lambda: [zeros(B, n)], r"rule 'uoro' expects state = \[A \(batch, hidden_size\), B .*\], but got 1"),
    ("kf_rtrl", [], lambda: [zeros(B, n), zeros(B, n, n)], r"state\[0\] \(kf_rtrl A\) of shape "
                                                           r"\(batch, hidden_size \+ input_size \+ 1\)"),
    ("rkf_rtrl", [], lambda: [zeros(B, n), zeros(B, n, n)], r"state\[1\] \(rkf_rtrl B\)"),
    ("kernl", [], lambda: good_state("kernl")[:7], r"rule 'kernl' expects state = \[trace .*\], but got 7 tensors"),
    ("kernl", [], lambda: good_state("kernl")[:2] + [zeros(n + 1)] + good_state("kernl")[3:],
     r"state\[2\] \(kernl rates\)"),
    ("kernl", [1e-5, 5.0, 3.0], lambda: good_state("kernl")[:7] + [torch.full((1,), 3.0, dtype=DT)],
     r"state\[7\] \(kernl count\) to hold an integer in \[0, reset_interval = 3\)"),
    ("dni", [], lambda: [zeros(n, n + O)] + good_state("dni")[1:], r"state\[0\] \(dni A\)"),
    ("dni_b", [], lambda: good_state("dni_b")[:3] + [zeros(B, O)] + good_state("dni_b")[4:],
     r"state\[3\] \(dni q_prev\)"),
    ("dni", [], lambda: good_state("dni")[:5] + [torch.full((1,), 5.0, dtype=DT)] + good_state("dni")[6:],
     r"state\[5\] \(dni count\) to hold an integer in \[0, fix_interval = 5\)"),
]


@pytest.mark.parametrize("rule,options,state,pattern", STATE_CASES)
def test_online_learn_state_errors(net, rule, options, state, pattern):
    p = net
    before = {k: p[k].clone() for k in MUTABLE}
    with pytest.raises(RuntimeError, match="online_learn: .*" + pattern):
        OPS.online_learn(**online_args(p, rule, state(), options))
    assert_unchanged(p, before)


@pytest.mark.parametrize("rec_grad", [lambda: zeros(n, m + 1), lambda: zeros(m, n), lambda: zeros(n, m).float()])
def test_online_learn_rec_grad_errors(net, rec_grad):
    p = net
    before = {k: p[k].clone() for k in MUTABLE}
    with pytest.raises(RuntimeError, match=r"online_learn: .*rec_grad"):
        OPS.online_learn(**online_args(p, "rtrl", [zeros(B, n, n * m)], [], rec_grad=rec_grad()))
    assert_unchanged(p, before)


TENSOR_CASES = [
    ("uoro", [], r"rule 'uoro' expects rule_tensors = \[noise \(seq_len, batch, hidden_size\)\], but got 0"),
    ("uoro", [zeros(T, B, n + 1)], r"rule_tensors\[0\] \(uoro noise nu\) of shape \(seq_len, batch, hidden_size\)"),
    ("kf_rtrl", [zeros(T, B, n)], r"rule_tensors\[0\] \(kf_rtrl noise nu\) of shape \(seq_len, batch, 2\)"),
    ("rkf_rtrl", [zeros(T - 1, B, n)], r"rule_tensors\[0\] \(rkf_rtrl noise nu\)"),
    ("kernl", [zeros(T, B, n).float()], r"rule_tensors\[0\] \(kernl noise\) to have the dtype of x"),
    ("rtrl", [zeros(T, B, n)], r"rule 'rtrl' takes no rule_tensors, but got 1 tensors"),
    ("dni", [zeros(T, B, n), zeros(T, B, n)], r"rule 'dni' expects rule_tensors = \[\] or \[credit .*, but got 2"),
    ("dni_b", [zeros(T, B, n - 1)], r"rule_tensors\[0\] \(dni credit\)"),
]


@pytest.mark.parametrize("rule,tensors,pattern", TENSOR_CASES)
def test_online_learn_rule_tensor_errors(net, rule, tensors, pattern):
    p = net
    before = {k: p[k].clone() for k in MUTABLE}
    with pytest.raises(RuntimeError, match="online_learn: .*" + pattern):
        OPS.online_learn(**online_args(p, rule, good_state(rule), [], rule_tensors=tensors))
    assert_unchanged(p, before)


@pytest.mark.parametrize("rule,tensors,pattern", [
    ("kernl", [zeros(n, n)], r"rule 'kernl' expects rule_tensors = \[A \(hidden_size, hidden_size\), rates "
                             r"\(hidden_size\)\], but got 1"),
    ("kernl", [zeros(n, n), zeros(n + 1)], r"rule_tensors\[1\] \(kernl rates\)"),
    ("uoro", [zeros(T, B, 2)], r"rule_tensors\[0\] \(uoro noise nu\)"),
    ("e_bptt", [zeros(1)], r"rule 'e_bptt' takes no rule_tensors"),
])
def test_sequence_rule_tensor_errors(net, rule, tensors, pattern):
    p = net
    options = [3.0] if rule == "e_bptt" else []
    with pytest.raises(RuntimeError, match="leaky_rnn_rule_backward: .*" + pattern):
        OPS.leaky_rnn_rule_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["output"],
                                    p["dphi"], 0.5, rule, options, tensors)


def test_record_only_for_dni(net):
    p = net
    with pytest.raises(RuntimeError, match=r"online_learn: only rules 'dni' and 'dni_b' record .*rule 'rtrl'"):
        OPS.online_learn(**online_args(p, "rtrl", good_state("rtrl"), [], record=zeros(T, B, 4, n)))
    with pytest.raises(RuntimeError, match=r"online_learn: expected record of shape \(seq_len, batch, 4, hidden_size\)"):
        OPS.online_learn(**online_args(p, "dni", good_state("dni"), [], record=zeros(T, B, 2, n)))


@pytest.mark.parametrize("make,pattern", [
    (lambda: rules.UORO(noise_kind="cauchy"), r"UORO: expected noise_kind in \('discrete', 'gaussian', 'uniform'\)"),
    (lambda: rules.KFRTRL(rho0=1.0), r"KFRTRL: expected rho0 and rho1 both set or both None"),
    (lambda: rules.RKFRTRL(rho0=-1.0, rho1=1.0), r"RKFRTRL: expected rho0 > 0 or None, but got -1.0"),
    (lambda: rules.UORO(epsilon=0.0), r"UORO: expected epsilon > 0 or None, but got 0.0"),
    (lambda: rules.KeRNL(sigma=-1e-5), r"KeRNL: expected sigma to be a finite number >= 0, but got -1e-05"),
    (lambda: rules.KeRNL(lr=float("nan")), r"KeRNL: expected lr to be a finite number >= 0, but got nan"),
    (lambda: rules.KeRNL(reset_interval=0), r"KeRNL: expected reset_interval to be an integer >= 1 or None"),
    (lambda: rules.DNI(fix_interval=0), r"DNI: expected fix_interval to be an integer >= 1, but got 0"),
    (lambda: rules.DNIb(alpha_e=1.5), r"DNIb: expected alpha_e in \[0, 1\]"),
    (lambda: rules.DNI(lr_sg=-0.1), r"DNI: expected lr_sg to be a finite number >= 0, but got -0.1"),
    (lambda: rules.DNIb(feedback="mirror"), r"DNIb: expected feedback to be 'symmetric', 'random' or a tensor"),
])
def test_new_rule_config_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_feedback_matrix_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"OnlineLearner: expected the feedback matrix of shape \(output_size, "
                                         r"hidden_size\) = \(3, 5\), but got \(5, 3\)"):
        OnlineLearner(LocalRNN(I, n, dtype=DT), nn.Linear(n, O, dtype=DT), rule=rules.DNIb(feedback=zeros(n, O)))


@pytest.mark.parametrize("rule", ["nope", "RTRL", ""])
def test_online_learn_unknown_rule(net, rule):
    with pytest.raises(RuntimeError, match=r"online_learn: expected rule to be one of " + re.escape(ALL_RULES[1:-1])
                                           + r", but got '" + re.escape(rule) + "'"):
        OPS.online_learn(**online_args(net, rule, [], []))


def test_online_learn_bptt_has_no_online_form(net):
    with pytest.raises(RuntimeError, match=r"online_learn: rule 'bptt' has no online form: its credit needs the "
                                           r"future of the stream"):
        OPS.online_learn(**online_args(net, "bptt", [], []))


@pytest.mark.parametrize("rule", ["nope", "BPTT", "e-prop"])
def test_leaky_rnn_unknown_rule_lists_the_rules(net, rule):
    p = net
    with pytest.raises(RuntimeError, match=r"leaky_rnn: expected rule to be one of " + re.escape(ALL_RULES[1:-1])
                                           + r", but got '" + rule + "'"):
        OPS.leaky_rnn(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 0.5, "tanh", rule, [], [])


def test_rule_backward_unknown_rule(net):
    p = net
    for rule in ("nope", "RFLO", ""):
        with pytest.raises(RuntimeError, match=r"leaky_rnn_rule_backward: expected rule to be one of .*, but got '"
                                               + rule + "'"):
            OPS.leaky_rnn_rule_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"],
                                        p["output"], p["dphi"], 0.5, rule, [], [])


def test_bptt_rflo_eprop_run_through_the_generic_op(net):
    """One route for every rule: the generic op gives what the special-purpose aliases give."""
    p = net
    args = (p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["output"], p["dphi"], 0.5)
    pairs = [(OPS.leaky_rnn_rule_backward(*args, "bptt", [], []), OPS.leaky_rnn_bptt_backward(*args)),
             (OPS.leaky_rnn_rule_backward(*args, "rflo", [0.3], []), OPS.leaky_rnn_rflo_backward(*args, 0.3)),
             (OPS.leaky_rnn_rule_backward(*args, "eprop", [], []), OPS.leaky_rnn_rflo_backward(*args, 0.5))]
    for generic, alias in pairs:
        for a, b in zip(generic, alias):
            assert torch.equal(a, b)


# ----------------------------------------------------------------------------- module level
def test_local_rnn_unknown_rule_lists_the_known_rules():
    with pytest.raises(ValueError, match=r"expected rule to be one of " + re.escape(ALL_RULES)
                                         + r" or a rules config, but got 'nope'"):
        LocalRNN(I, n, rule="nope")
    with pytest.raises(ValueError, match=re.escape(ALL_RULES)):
        rules.resolve("F_BPTT")


def test_online_learner_bptt_lists_the_online_rules():
    rnn = LocalRNN(I, n, dtype=DT)
    with pytest.raises(ValueError, match=r"rule 'bptt' has no online form; rules with one: " + re.escape(ONLINE_RULES)):
        OnlineLearner(rnn, nn.Linear(n, O, dtype=DT))


_BAD_COUNT_SCRIPT = r"""
import sys, torch, torch_local_rnn
from torch_local_rnn import rules
name, bad = sys.argv[1], float(sys.argv[2])
D = torch.float64
T, B, I, n, O = 5, 1, 2, 3, 2
cfg = rules.FBPTT(truncation=3) if name == "f_bptt" else rules.EBPTT(window=3)
state = list(cfg.online_state(B, n, I, dtype=D).values())
state[3].fill_(bad)
x, y = torch.randn(T, B, I, dtype=D), torch.softmax(torch.randn(T, B, O, dtype=D), -1)
try:
    torch.ops.torch_local_rnn.online_learn(name, x, y, torch.zeros(B, n, dtype=D), 0.5 * torch.eye(n, dtype=D),
        torch.randn(n, I, dtype=D), torch.zeros(n, dtype=D), torch.randn(O, n, dtype=D), torch.zeros(O, dtype=D),
        state, None, None, 1.0, "tanh", "cross_entropy", 0.1, cfg.online_options(1.0), [])
    print("NO ERROR")
except RuntimeError as e:
    print("RuntimeError:", e)
"""


@pytest.mark.slow  # a subprocess each
@pytest.mark.parametrize("rule,bad", [("f_bptt", "-1.0"), ("e_bptt", "nan")])
def test_online_learn_bad_count_state_does_not_crash(rule, bad):
    """A corrupted counter (e.g. a hand-edited or foreign state_dict) must raise, naming the count, not crash.
    Run in a subprocess, so a crash (an out-of-bounds ring index) fails the test instead of the run."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", _BAD_COUNT_SCRIPT, rule, bad], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"process died (rc {r.returncode}): {r.stderr[-300:]}"
    assert re.search(r"RuntimeError:.*count", r.stdout), r.stdout


@pytest.mark.parametrize("rule,bad", [("f_bptt", 2.5), ("e_bptt", 2.5), ("f_bptt", 6.0), ("e_bptt", 3.0)])
def test_online_learn_fractional_or_out_of_range_count_state(net, rule, bad):
    """K = 3: f_bptt's counter lives in [0, 2K), e_bptt's (the position in the window) in [0, K)."""
    p = net
    state = good_state(rule)
    state[3].fill_(bad)
    before = {k: p[k].clone() for k in MUTABLE}
    with pytest.raises(RuntimeError, match=r"online_learn: .*state\[3\] \(" + rule + r" count\)"):
        OPS.online_learn(**online_args(p, rule, state, [3.0]))
    assert_unchanged(p, before)
    assert state[3].item() == bad
