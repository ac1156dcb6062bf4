"""L2 regularisation of the online ops (docs/algorithms.md §2.1 4d): l2 W added to the gradients of W_hh, W_ih
and W_out (not the biases) every step, with the weights before the step's update, for every rule; tested
against the reference loops and the closed form of a rule that never updates the recurrent weights."""
import pytest
import torch

from helpers import DT, ONLINE_TOL, assert_rel, rel_err
from test_rules_online import online_problem, run_op
from torch_local_rnn import LocalRNN, OnlineLearner, ops, reference as R, rules

LR, L2 = 0.05, 0.3


def check(got, ref, ctx):
    losses, hidden, weights = got[:3]
    assert_rel(losses, ref.losses, ONLINE_TOL, f"{ctx} losses")
    assert_rel(hidden, ref.hidden, ONLINE_TOL, f"{ctx} hidden")
    for w, name in zip(weights, ["weight_hh", "weight_ih", "bias", "weight_out", "bias_out"]):
        assert_rel(w, getattr(ref, name), ONLINE_TOL, f"{ctx} {name}")


def run_l2(rule, x, y, hidden, weights, state, alpha, loss, tensors=()):
    hidden, weights = hidden.clone(), [w.clone() for w in weights]
    losses = ops.online_learn(rule.name, x, y, hidden, *weights, state, None, None, alpha, "tanh", loss, LR,
                              rule.online_options(alpha), list(tensors), None, L2)
    return losses, hidden, weights


@pytest.mark.parametrize("B", [1, 3])
def test_rflo_online_l2_matches_reference(B):
    x, y, hidden, weights = online_problem(80, B, 3, 6, 2, "mse", seed=501)
    trace = torch.zeros(B, 6, 10, dtype=DT)
    w = [t.clone() for t in weights]
    h = hidden.clone()
    losses = ops.rflo_online(x, y, h, trace, *w, None, 0.6, 0.4, "tanh", "mse", LR, L2)
    ref = R.rflo_online(x, y, hidden, torch.zeros(B, 6, 10, dtype=DT), *weights, alpha=0.6, trace_alpha=0.4,
                        loss="mse", lr=LR, l2=L2)
    check((losses, h, w), ref, f"rflo B={B}")
    no_l2 = R.rflo_online(x, y, hidden, torch.zeros(B, 6, 10, dtype=DT), *weights, alpha=0.6, trace_alpha=0.4,
                          loss="mse", lr=LR)
    assert rel_err(ref.weight_hh, no_l2.weight_hh) > 1e-3, "l2 must change the run"


@pytest.mark.parametrize("rule", [rules.RTRL(), rules.EBPTT(window=4), rules.FBPTT(truncation=3), rules.OutputOnly()],
                         ids=lambda r: r.name)
def test_deterministic_rules_l2_match_reference(rule):
    """E-BPTT between windows and output-only never update W_hh: the L2 term still applies every step."""
    B, T, I, n = 2, 60, 3, 5
    x, y, hidden, weights = online_problem(T, B, I, n, 2, "cross_entropy", seed=502)
    state = list(rule.online_state(B, n, I, dtype=DT).values())
    got = run_l2(rule, x, y, hidden, weights, state, 0.7, "cross_entropy")
    kw = dict(alpha=0.7, loss="cross_entropy", lr=LR, l2=L2)
    if rule.name == "rtrl":
        ref = R.rtrl_online(x, y, hidden, torch.zeros(B, n, n * (n + I + 1), dtype=DT), *weights, **kw)
    elif rule.name == "e_bptt":
        ref = R.e_bptt_online(x, y, hidden, *weights, window=4, **kw)
    elif rule.name == "f_bptt":
        ref = R.f_bptt_online(x, y, hidden, *weights, truncation=3, **kw)
    else:
        ref = R.output_only_online(x, y, hidden, *weights, **kw)
    check(got, ref, rule.name)


def test_uoro_l2_matches_reference():
    B, T, I, n = 2, 50, 3, 5
    rule = rules.UORO()
    x, y, hidden, weights = online_problem(T, B, I, n, 2, "mse", seed=503)
    g = torch.Generator().manual_seed(504)
    st = rule.online_state(B, n, I, generator=g, dtype=DT)
    noise = rule.noise(T, B, n, g, dtype=DT)[0]
    got = run_l2(rule, x, y, hidden, weights, [s.clone() for s in st.values()], 1.0, "mse", [noise])
    ref = R.factored_online("uoro", x, y, hidden, st["factor_a"], st["factor_b"], *weights, noise, loss="mse",
                            lr=LR, l2=L2)
    check(got, ref, "uoro")


def test_output_only_l2_is_a_geometric_decay_of_the_recurrent_weights():
    """No recurrent learning: W_hh(T) = (1 - lr l2)^T W_hh(0) exactly, the bias untouched."""
    x, y, hidden, weights = online_problem(40, 2, 3, 5, 2, "mse", seed=505)
    _, _, w = run_l2(rules.OutputOnly(), x, y, hidden, weights, [], 1.0, "mse")
    factor = (1 - LR * L2) ** 40
    assert_rel(w[0], factor * weights[0], 1e-12, "W_hh")
    assert_rel(w[1], factor * weights[1], 1e-12, "W_ih")
    assert torch.equal(w[2], weights[2]), "the bias has no L2"


def test_online_learner_passes_l2_and_checks_it():
    torch.manual_seed(0)
    rnn = LocalRNN(3, 5, rule="rflo", dtype=DT)
    learner = OnlineLearner(rnn, torch.nn.Linear(5, 2).double(), lr=LR, l2=L2)
    x, y, hidden, weights = online_problem(30, 1, 3, 5, 2, "cross_entropy", seed=506)
    w0 = [p.detach().clone() for p in (rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0, learner.readout.weight,
                                       learner.readout.bias)]
    learner.fit(x[:, 0], y[:, 0])
    ref = R.rflo_online(x, y, torch.zeros(1, 5, dtype=DT), torch.zeros(1, 5, 9, dtype=DT), *w0, lr=LR, l2=L2)
    assert_rel(rnn.weight_hh_l0.detach(), ref.weight_hh, ONLINE_TOL, "learner W_hh")
    assert_rel(learner.readout.weight.detach(), ref.weight_out, ONLINE_TOL, "learner W_out")
    with pytest.raises(ValueError, match="expected l2 to be a finite number >= 0, but got -1"):
        OnlineLearner(LocalRNN(3, 5, rule="rflo"), torch.nn.Linear(5, 2), l2=-1.0)
    with pytest.raises(RuntimeError, match="online_learn: expected l2 to be a finite number >= 0, but got nan"):
        ops.online_learn("rtrl", x, y, hidden.clone(), *[t.clone() for t in weights], [torch.zeros(1, 5, 45, dtype=DT)],
                         None, None, 1.0, "tanh", "mse", LR, [], [], None, float("nan"))
