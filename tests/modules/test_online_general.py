"""OnlineLearner beyond the papers' setting (docs/algorithms.md §2.7, §2.8): the optimisers, resuming them,
the general readout path against the fused one, per-chunk and per-step learning rates, the chunk callback."""
import copy

import pytest
import torch
from torch import nn

import torch_local_rnn as tlr

D = torch.float64
T, B, N, I, O = 24, 2, 6, 3, 2


def _data():
    g = torch.Generator().manual_seed(5)
    return (torch.randn(T, B, I, generator=g, dtype=D),
            torch.softmax(torch.randn(T, B, O, generator=g, dtype=D), -1))


def _learner(loss="cross_entropy", wrap=None, lr=1e-2, **kw):
    g = torch.Generator().manual_seed(1)
    rnn = tlr.LocalRNN(I, N, rule="rflo", generator=g, dtype=D)
    readout = nn.Linear(N, O).to(D)
    with torch.no_grad():
        readout.weight.copy_(torch.randn(O, N, generator=g, dtype=D) * 0.3)
        readout.bias.zero_()
    return tlr.OnlineLearner(rnn, wrap(readout) if wrap else readout, loss=loss, batch_size=B, lr=lr, **kw)


def _cross_entropy(z, y):  # the fused loop's output error softmax(z) - y as a gradient
    return -(y * torch.log_softmax(z, -1)).sum(-1)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
def test_general_path_learns_as_the_fused_loop(optimizer):
    x, y = _data()
    fused = _learner(optimizer=optimizer, l2=1e-3)
    fused.fit(x, y)
    for general in (_learner(loss=_cross_entropy, optimizer=optimizer, l2=1e-3),
                    _learner(wrap=nn.Sequential, optimizer=optimizer, l2=1e-3)):
        general.fit(x, y)
        assert general.general is not None
        torch.testing.assert_close(general.rnn.weight_hh_l0, fused.rnn.weight_hh_l0, rtol=0, atol=1e-12)
        weight = general.readout.weight if isinstance(general.readout, nn.Linear) else general.readout[0].weight
        torch.testing.assert_close(weight, fused.readout.weight, rtol=0, atol=1e-12)


@pytest.mark.parametrize("wrap", [None, nn.Sequential])
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_a_resumed_run_equals_one_that_never_stopped(optimizer, wrap):
    x, y = _data()
    whole = _learner(wrap=wrap, optimizer=optimizer)
    whole.fit(x, y)
    first = _learner(wrap=wrap, optimizer=optimizer)
    first.fit(x[:11], y[:11])
    saved = copy.deepcopy(first.state_dict())
    resumed = _learner(wrap=wrap, optimizer=optimizer)
    resumed.load_state_dict(saved)
    resumed.fit(x[11:], y[11:])
    assert int(resumed.optimizer_steps) == T
    for a, b in zip(resumed.parameters(), whole.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_adam_moves_differently_from_sgd():  # the optimiser is not silently plain SGD
    x, y = _data()
    a, s = _learner(optimizer="adam"), _learner()
    a.fit(x, y)
    s.fit(x, y)
    assert (a.rnn.weight_hh_l0 - s.rnn.weight_hh_l0).abs().max() > 1e-4


def test_callable_lr_is_evaluated_per_chunk_and_lr_schedule_per_step():
    x, y = _data()
    seen = []
    ramp = _learner(lr=lambda step: seen.append(step) or 1e-2 * (1 + step // 8))
    ramp.fit(x, y, chunk_size=8)
    assert seen[-3:] == [0, 8, 16]  # the construction's check, then one call per chunk
    per_step = _learner(lr=0.0)
    per_step.fit(x, y, lr_schedule=torch.tensor([1e-2 * (1 + t // 8) for t in range(T)], dtype=D))
    torch.testing.assert_close(per_step.rnn.weight_hh_l0, ramp.rnn.weight_hh_l0, rtol=0, atol=1e-14)


def test_callback_sees_every_chunk():
    x, y = _data()
    calls = []
    learner = _learner()
    losses = learner.fit(x, y, chunk_size=10, callback=lambda l, info: calls.append(dict(info)))
    assert [(c["start"], c["stop"]) for c in calls] == [(0, 10), (10, 20), (20, 24)]
    assert calls[-1]["steps_done"] == T
    torch.testing.assert_close(calls[1]["losses"], losses[10:20])


def test_general_path_bad_input_names_the_argument():
    x, y = _data()
    bad = _learner(loss=lambda z, t: (z - t).pow(2))  # (B, O), not one loss per stream
    with pytest.raises(ValueError, match=r"loss\(output, target\) to return one loss per stream"):
        bad.fit(x, y)
    with pytest.raises(ValueError, match="lr_schedule"):
        _learner().fit(x, y, lr_schedule=torch.ones(T + 1, dtype=D))
    with pytest.raises(TypeError, match="callback"):
        _learner().fit(x, y, callback=3)


def test_a_readout_that_does_not_take_hidden_size_inputs_is_refused():
    with pytest.raises(ValueError, match=r"expected readout to take \(batch, hidden_size = 6\) inputs"):
        _learner(wrap=lambda linear: nn.Sequential(nn.Linear(N + 1, O)).to(D))


def test_a_generator_state_that_is_a_view_loads():
    # a row of a stacked state (a view into a larger storage) crashed torch's set_state before it was copied
    learner = _learner(rule=tlr.rules.UORO())
    state = learner.state_dict()
    state["rng_state"] = torch.stack([state["rng_state"], state["rng_state"]])[1]
    learner.load_state_dict(state)
