"""Nothing the caller passed is modified, except what rflo_online documents it mutates (hidden,
trace and the five weights), which it must actually update."""
import pytest
import torch
from torch import nn

from helpers import DT, generator, problem, randn, soft_targets, strided, transposed
from torch_local_rnn import LocalRNN, OnlineLearner, ops

OPS = torch.ops.torch_local_rnn


def snapshot(*tensors):
    return [t.detach().clone() for t in tensors]


def assert_unchanged(tensors, copies, names):
    for t, c, name in zip(tensors, copies, names):
        assert torch.equal(t.detach(), c), f"{name} was modified"


@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_leaky_rnn_forward_backward_leave_inputs(rule, layout):
    p = problem(T=10, B=3, I=3, n=4, seed=111)
    names = ["x", "h0", "weight_hh", "weight_ih", "bias"]
    ins = [p[k] for k in names]
    if layout == "noncontiguous":
        ins = [transposed(ins[0]), strided(ins[1]), transposed(ins[2]), strided(ins[3]), strided(ins[4])]
    ins = [t.detach().clone().requires_grad_(True) if layout == "contiguous" else t.requires_grad_(True) for t in ins]
    before = snapshot(*ins)
    g = p["grad_output"].clone()
    out = OPS.leaky_rnn(*ins, 0.5, "tanh", rule, [], [])
    assert_unchanged(ins, before, names)
    out.backward(g)
    assert_unchanged(ins + [g], before + [p["grad_output"]], names + ["grad_output"])


def test_plain_ops_leave_inputs():
    p = problem(T=8, B=2, I=3, n=4, seed=112)
    args = [p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"]]
    before = snapshot(*args)
    out, dphi = OPS.leaky_rnn_forward(*args, 0.5, "sigmoid")
    assert_unchanged(args, before, ["x", "h0", "weight_hh", "weight_ih", "bias"])
    bargs = [p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi]
    names = ["grad_output", "x", "h0", "weight_hh", "weight_ih", "output", "dphi"]
    before = snapshot(*bargs)
    OPS.leaky_rnn_bptt_backward(*bargs, 0.5)
    assert_unchanged(bargs, before, names)
    OPS.leaky_rnn_rflo_backward(*bargs, 0.5, 0.3)
    assert_unchanged(bargs, before, names)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_local_rnn_leaves_inputs(rule, batch_first):
    p = problem(T=7, B=3, I=3, n=4, seed=113)
    rnn = LocalRNN(3, 4, alpha=0.5, rule=rule, batch_first=batch_first, dtype=DT)
    x = (p["x"].transpose(0, 1) if batch_first else p["x"]).clone().requires_grad_(True)
    h0 = p["h0"].unsqueeze(0).clone().requires_grad_(True)
    before = snapshot(x, h0, *rnn.parameters())
    out, h_n = rnn(x, h0)
    (out.sum() + h_n.sum()).backward()
    assert_unchanged([x, h0, *rnn.parameters()], before, ["x", "h0", "weight_hh", "weight_ih", "bias"])
    with torch.no_grad():
        rnn(x[:, 0] if batch_first else x[:, 0], h0[0, :1])
    assert_unchanged([x, h0], before, ["x", "h0"])


@pytest.mark.parametrize("with_feedback", [False, True])
def test_rflo_online_mutates_exactly_state_and_weights(with_feedback):
    T, B, I, n, O = 20, 2, 3, 4, 3
    p = problem(T, B, I, n, seed=114)
    g = generator(115)
    x, y = p["x"], soft_targets(T, B, O, g)
    fb = randn(O, n, gen=g) if with_feedback else None
    mutable = [p["h0"].clone(), torch.zeros(B, n, n + I + 1, dtype=DT), p["weight_hh"].clone(),
               p["weight_ih"].clone(), p["bias"].clone(), randn(O, n, gen=g), randn(O, gen=g)]
    names = ["hidden", "trace", "weight_hh", "weight_ih", "bias", "weight_out", "bias_out"]
    fixed = [x, y] + ([fb] if with_feedback else [])
    fixed_before = snapshot(*fixed)
    mutable_before = snapshot(*mutable)
    pointers = [t.data_ptr() for t in mutable]
    OPS.rflo_online(x, y, *mutable, fb, 0.5, 0.5, "tanh", "cross_entropy", 0.1)
    assert_unchanged(fixed, fixed_before, ["x", "y", "feedback"])
    for t, b, ptr, name in zip(mutable, mutable_before, pointers, names):
        assert t.data_ptr() == ptr, f"{name} was replaced, not updated in place"
        assert not torch.equal(t, b), f"{name} was not updated"


def test_online_learner_leaves_data():
    T, B, I, n, O = 15, 2, 3, 4, 3
    p = problem(T, B, I, n, seed=116)
    y = soft_targets(T, B, O, generator(117))
    rnn = LocalRNN(I, n, alpha=0.5, rule="rflo", dtype=DT)
    learner = OnlineLearner(rnn, nn.Linear(n, O, dtype=DT), lr=0.1, batch_size=B)
    before = snapshot(p["x"], y)
    learner.fit(p["x"], y, chunk_size=4)
    learner.evaluate(p["x"], y, hidden=p["h0"])
    assert_unchanged([p["x"], y], before, ["x", "y"])
    h0 = p["h0"].clone()
    learner.evaluate(p["x"], y, hidden=h0)
    assert torch.equal(h0, p["h0"])
