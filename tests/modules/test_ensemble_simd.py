"""online_learn_members' CPU fast path for RFLO / e-prop stacks (cpu/members_simd_cpu.cpp, docs/algorithms.md §2.10):
members in SIMD lanes, each equal to its learner run alone (OnlineLearner.fit) to rounding -- <= 1e-12 in float64,
<= 1e-5 relative in float32 -- over a few hundred steps, for E members not a multiple of the lane block too,
every loss, symmetric and random feedback, per-member lr / alpha / trace_alpha / l2, shared and per-member x,
lr_schedule; the path is taken (ops.members_simd_calls), and what it does not cover falls back to the members'
scalar steps, bitwise."""
import copy
import os

import pytest
import torch
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner, ops, rules

I, N, O, T, CHUNK = 2, 32, 2, 300, 128  # the papers' size (n = 32, input 2, output 2, batch 1)
TOL = {torch.float64: dict(rtol=0.0, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-5)}


def make(e, dtype, rule="rflo", loss="cross_entropy", feedback="symmetric", l2=True, **kw):
    g = torch.Generator().manual_seed(100 + e)
    alpha = (1.0, 0.5, 0.3, 0.8)[e % 4]
    if rule == "rflo":
        r = rules.RFLO(trace_alpha=(None, 0.3, 0.7, 1.0)[e % 4], feedback=feedback)
    else:
        r = rules.EProp(feedback=feedback)
    torch.manual_seed(200 + e)
    options = dict(rule=r, loss=loss, lr=(3e-3, 1e-3, 5e-3, 2e-3)[e % 4], batch_size=1, generator=g,
                   l2=(0.0, 1e-3, 0.0, 1e-4)[e % 4] if l2 else 0.0,
                   initial_state=("zeros", "random")[e % 2])
    options.update(kw)
    return OnlineLearner(LocalRNN(I, N, alpha=alpha, generator=g, dtype=dtype), nn.Linear(N, O, dtype=dtype),
                         **options)


def data(dtype, loss, E=None, steps=T, seed=0):
    g = torch.Generator().manual_seed(seed)
    lead = (steps, 1) if E is None else (steps, E, 1)
    x = torch.randn(*lead, I, generator=g, dtype=dtype)
    y = torch.randn(*lead, O, generator=g, dtype=dtype)
    if loss == "cross_entropy":
        y = torch.softmax(2 * y, -1)
    return x, y


def check(E, dtype, rule="rflo", loss="cross_entropy", feedback="symmetric", per_member=False, l2=True,
          schedule=False, fast=True):
    learners = [make(e, dtype, rule, loss, feedback, l2) for e in range(E)]
    alone = [copy.deepcopy(m) for m in learners]
    ens = OnlineLearner.stack(learners)
    x, y = data(dtype, loss, E if per_member else None)
    lrs = torch.linspace(5e-3, 1e-3, T, dtype=dtype) if schedule else None
    before = ops.members_simd_calls()
    losses = ens.fit(x, y, chunk_size=CHUNK, lr_schedule=lrs)
    chunks = -(-T // CHUNK)
    assert ops.members_simd_calls() - before == (chunks if fast else 0)
    tol = TOL[dtype]
    for e, (learner, member) in enumerate(zip(alone, ens.unstack())):
        xe, ye = (x[:, e], y[:, e]) if per_member else (x, y)
        want = learner.fit(xe, ye, chunk_size=CHUNK, lr_schedule=lrs)
        context = f"E={E} {dtype} {rule} {loss} {feedback} member {e}"
        if fast:
            torch.testing.assert_close(losses[:, e], want, **tol, msg=lambda m: f"{context} losses: {m}")
        else:
            assert torch.equal(losses[:, e], want), context
        a, b = member.state_dict(), learner.state_dict()
        assert a.keys() == b.keys()
        for key in a:
            if fast:
                torch.testing.assert_close(a[key], b[key], **tol, msg=lambda m: f"{context} {key}: {m}")
            else:
                assert torch.equal(a[key], b[key]), f"{context} {key}"
        if fast:
            torch.testing.assert_close(member.hidden, learner.hidden, **tol)
            for name, t in member.rule_state().items():
                torch.testing.assert_close(t, learner.rule_state()[name], **tol)
    # the members learned, and differently
    assert E == 1 or not torch.equal(ens.weight_out[0], ens.weight_out[1])
    return ens


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("E", [2, 8, 13, 64])
def test_members_equal_their_learners_alone(E, dtype):
    check(E, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "mse_mean"])
@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_losses_and_feedback(loss, feedback, dtype):
    check(13, dtype, loss=loss, feedback=feedback)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_eprop_per_member_x_schedule_and_no_l2(dtype):
    check(9, dtype, rule="eprop", per_member=True, l2=False, schedule=True)


@pytest.mark.parametrize("isa", ["avx2", "baseline"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_narrower_kernels(isa, dtype, monkeypatch):
    """The kernel's AVX2 and baseline (SSE2) copies, which this CPU may not pick by itself (TLR_MEMBERS_SIMD caps
    the ISA): blocks of another width, the same results to rounding."""
    monkeypatch.setenv("TLR_MEMBERS_SIMD", isa)
    check(13, dtype, loss="mse", feedback="random")


def test_one_member_and_off_switch_take_the_scalar_path_bitwise(monkeypatch):
    check(1, torch.float64, fast=False)
    monkeypatch.setenv("TLR_MEMBERS_SIMD", "0")
    check(5, torch.float64, fast=False)


def test_uncovered_cases_take_the_scalar_path_bitwise():
    """batch 2, another optimiser, relu: each member's scalar step, bitwise its solo run."""
    for kw in (dict(batch_size=2), dict(optimizer="adam"), dict(nonlinearity="relu")):
        nonlinearity = kw.pop("nonlinearity", "tanh")
        learners = []
        for e in range(3):
            g = torch.Generator().manual_seed(e)
            torch.manual_seed(e)
            learners.append(OnlineLearner(LocalRNN(I, 8, nonlinearity=nonlinearity, generator=g),
                                          nn.Linear(8, O), rule="rflo", lr=1e-2, generator=g, **kw))
        alone = [copy.deepcopy(m) for m in learners]
        ens = OnlineLearner.stack(learners)
        B = kw.get("batch_size", 1)
        x = torch.randn(40, B, I, generator=torch.Generator().manual_seed(1))
        y = torch.softmax(torch.randn(40, B, O, generator=torch.Generator().manual_seed(2)), -1)
        before = ops.members_simd_calls()
        losses = ens.fit(x, y, chunk_size=16)
        assert ops.members_simd_calls() == before, kw
        for e, learner in enumerate(alone):
            assert torch.equal(losses[:, e], learner.fit(x, y, chunk_size=16)), (kw, e)


def test_the_op_takes_the_fast_path_and_matches_the_scalar_path(monkeypatch):
    """The op itself, with and without the path (TLR_MEMBERS_SIMD=0): the same results to rounding."""
    ens = OnlineLearner.stack([make(e, torch.float64) for e in range(6)])
    other = copy.deepcopy(ens)
    x, y = data(torch.float64, "cross_entropy", steps=50)
    fast = ens.fit(x, y, chunk_size=50)
    monkeypatch.setenv("TLR_MEMBERS_SIMD", "0")
    before = ops.members_simd_calls()
    slow = other.fit(x, y, chunk_size=50)
    assert ops.members_simd_calls() == before
    torch.testing.assert_close(fast, slow, **TOL[torch.float64])
    for (key, a), b in zip(ens.state_dict().items(), other.state_dict().values()):
        torch.testing.assert_close(a, b, **TOL[torch.float64], msg=key)
