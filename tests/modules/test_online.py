"""Online RFLO (ops.rflo_online, OnlineLearner) against the reference per-step loop with per-step
SGD (docs/algorithms.md §2.1, §3.6), float64, after hundreds of steps; chunking and state_dict resume."""
import copy
import io

import pytest
import torch

from helpers import DT, ONLINE_TOL, assert_rel, generator, network, one_hot_targets, randn, rel_err, soft_targets
from torch_local_rnn import LocalRNN, OnlineLearner, ops, reference as R, rules

STATE = ["hidden", "trace", "weight_hh", "weight_ih", "bias", "weight_out", "bias_out"]


def online_problem(T, B, I, n, O, loss, seed, feedback=False):
    W, U, b = network(n, I, seed)
    g = generator(seed + 500)
    y = soft_targets(T, B, O, g) if loss == "cross_entropy" else randn(T, B, O, gen=g)
    if loss == "cross_entropy" and seed % 2:  # one-hot labels too
        y = one_hot_targets(T, B, O, g)
    state = [randn(B, n, gen=g, scale=0.3), torch.zeros(B, n, n + I + 1, dtype=DT), W, U, b,
             randn(O, n, gen=g, scale=n ** -0.5), randn(O, gen=g, scale=0.1)]
    fb = randn(O, n, gen=g, scale=O ** -0.5) if feedback else None
    return randn(T, B, I, gen=g), y, state, fb


def check_against_reference(losses, state, ref, tol=ONLINE_TOL, context=""):
    assert_rel(losses, ref.losses, tol, f"{context} losses")
    for got, name in zip(state, STATE):
        assert_rel(got, getattr(ref, name), tol, f"{context} {name}")


@pytest.mark.parametrize("alpha", [1.0, 0.5])
@pytest.mark.parametrize("feedback", ["symmetric", "fixed"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "mse_mean"])
@pytest.mark.parametrize("B", [1, 3])
def test_rflo_online_op_matches_reference(B, loss, feedback, alpha):
    T, I, n, O = 500, 3, 6, 3
    x, y, state, fb = online_problem(T, B, I, n, O, loss, seed=41 + B, feedback=feedback == "fixed")
    lr = 0.05
    ref = R.rflo_online(x, y, *state, fb, alpha=alpha, loss=loss, lr=lr)
    initial = [s.clone() for s in state]
    losses = ops.rflo_online(x, y, *state, fb, alpha=alpha, loss=loss, lr=lr)
    check_against_reference(losses, state, ref, context=f"B={B} {loss} {feedback} alpha={alpha}")
    # the learning did something: every weight moved
    for got, before, name in zip(state[2:], initial[2:], STATE[2:]):
        assert rel_err(got, before) > 1e-3, f"{name} did not learn"


@pytest.mark.parametrize("nonlinearity", ["relu", "sigmoid"])
def test_rflo_online_other_nonlinearities_and_trace_alpha(nonlinearity):
    T, B, I, n, O = 200, 2, 3, 5, 3
    x, y, state, fb = online_problem(T, B, I, n, O, "mse", seed=43)
    state[1] = randn(B, n, n + I + 1, gen=generator(44), scale=0.1)   # a trace carried over from before
    ref = R.rflo_online(x, y, *state, fb, alpha=0.7, trace_alpha=0.3, nonlinearity=nonlinearity, loss="mse", lr=0.02)
    losses = ops.rflo_online(x, y, *state, fb, alpha=0.7, trace_alpha=0.3, nonlinearity=nonlinearity, loss="mse",
                             lr=0.02)
    check_against_reference(losses, state, ref)


def test_rflo_online_op_in_pieces_equals_one_call():
    T, B, I, n, O = 60, 3, 2, 4, 3
    x, y, state, fb = online_problem(T, B, I, n, O, "cross_entropy", seed=45)
    whole = [s.clone() for s in state]
    L_whole = ops.rflo_online(x, y, *whole, fb, alpha=0.5, lr=0.1)
    parts = []
    for start, stop in ((0, 1), (1, 17), (17, 60)):
        parts.append(ops.rflo_online(x[start:stop], y[start:stop], *state, fb, alpha=0.5, lr=0.1))
    assert torch.equal(torch.cat(parts), L_whole)
    for a, b, name in zip(state, whole, STATE):
        assert torch.equal(a, b), name


def test_rflo_online_noncontiguous_x_y_feedback():
    T, B, I, n, O = 50, 3, 3, 4, 2
    x, y, state, fb = online_problem(T, B, I, n, O, "mse", seed=46, feedback=True)
    ref = R.rflo_online(x, y, *state, fb, alpha=0.5, loss="mse", lr=0.05)
    xs = x.transpose(0, 1).contiguous().transpose(0, 1)
    ys = y.transpose(0, 1).contiguous().transpose(0, 1)
    fbs = fb.t().contiguous().t()
    assert not (xs.is_contiguous() or ys.is_contiguous() or fbs.is_contiguous())
    losses = ops.rflo_online(xs, ys, *state, fbs, alpha=0.5, loss="mse", lr=0.05)
    check_against_reference(losses, state, ref)


def make_learner(I, n, O, alpha, feedback, loss, batch_size, seed, lr=0.05, trace_alpha=None):
    g = generator(seed)
    fb = {"symmetric": "symmetric", "random": "random",
          "tensor": randn(O, n, gen=generator(seed + 1), scale=O ** -0.5)}[feedback]
    rnn = LocalRNN(I, n, alpha=alpha, rule=rules.RFLO(trace_alpha=trace_alpha, feedback=fb), dtype=DT, generator=g)
    readout = torch.nn.Linear(n, O, dtype=DT)
    with torch.no_grad():
        readout.weight.copy_(randn(O, n, gen=g, scale=n ** -0.5))
        readout.bias.copy_(randn(O, gen=g, scale=0.1))
    return OnlineLearner(rnn, readout, loss=loss, lr=lr, batch_size=batch_size, generator=g)


def learner_state(learner):
    return [learner.hidden, learner.trace, learner.rnn.weight_hh_l0, learner.rnn.weight_ih_l0, learner.rnn.bias_ih_l0,
            learner.readout.weight, learner.readout.bias]


@pytest.mark.parametrize("alpha", [1.0, 0.5])
@pytest.mark.parametrize("feedback", ["symmetric", "random", "tensor"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "mse_mean"])
@pytest.mark.parametrize("B", [1, 3])
def test_online_learner_fit_matches_reference(B, loss, feedback, alpha):
    T, I, n, O = 500, 3, 6, 3
    learner = make_learner(I, n, O, alpha, feedback, loss, B, seed=50 + B)
    x, y, _, _ = online_problem(T, B, I, n, O, loss, seed=51)
    start = [s.detach().clone() for s in learner_state(learner)]
    fb = learner.feedback
    if feedback == "symmetric":
        assert fb is None
    else:
        assert fb is not None and fb.shape == (O, n) and fb.dtype == DT
        if feedback == "tensor":
            assert torch.equal(fb, learner.rule.feedback)
    ref = R.rflo_online(x, y, *start, fb, alpha=alpha, loss=loss, lr=0.05)
    if B == 1:  # unbatched streams: (T, I) in, (T,) out
        losses = learner.fit(x[:, 0], y[:, 0])
        assert losses.shape == (T,)
        losses = losses[:, None]
    else:
        losses = learner.fit(x, y)
        assert losses.shape == (T, B)
    check_against_reference(losses, [s.detach() for s in learner_state(learner)], ref,
                            context=f"fit B={B} {loss} {feedback} alpha={alpha}")


def test_online_learner_trace_alpha_override():
    T, B, I, n, O = 300, 2, 3, 5, 3
    learner = make_learner(I, n, O, 0.5, "symmetric", "mse", B, seed=52)
    learner = OnlineLearner(learner.rnn, learner.readout, loss="mse", lr=0.05, batch_size=B,
                            rule=rules.RFLO(trace_alpha=0.2))
    x, y, _, _ = online_problem(T, B, I, n, O, "mse", seed=53)
    start = [s.detach().clone() for s in learner_state(learner)]
    ref = R.rflo_online(x, y, *start, None, alpha=0.5, trace_alpha=0.2, loss="mse", lr=0.05)
    check_against_reference(learner.fit(x, y), [s.detach() for s in learner_state(learner)], ref)


def test_random_feedback_statistics():
    learner = make_learner(3, 200, 50, 1.0, "random", "mse", 1, seed=54)
    fb = learner.feedback
    assert fb.shape == (50, 200)
    assert abs(fb.var().item() - 1 / 50) < 0.1 / 50          # W_FB ~ N(0, 1/n_out)
    assert abs(fb.mean().item()) < 0.01
    assert rel_err(fb, learner.readout.weight.detach()) > 0.5  # not the readout


@pytest.mark.parametrize("B", [1, 3])
def test_chunked_fit_equals_one_call(B):
    T, I, n, O = 103, 3, 5, 3
    x, y, _, _ = online_problem(T, B, I, n, O, "cross_entropy", seed=55)
    one = make_learner(I, n, O, 0.5, "random", "cross_entropy", B, seed=56)
    chunked = make_learner(I, n, O, 0.5, "random", "cross_entropy", B, seed=56)
    L_one = one.fit(x, y)
    L_chunked = chunked.fit(x, y, chunk_size=10)
    assert torch.equal(L_one, L_chunked)
    for a, b, name in zip(learner_state(one), learner_state(chunked), STATE):
        assert torch.equal(a, b), name
    # and two separate fit calls are one run too
    split = make_learner(I, n, O, 0.5, "random", "cross_entropy", B, seed=56)
    L_split = torch.cat([split.fit(x[:40], y[:40], chunk_size=7), split.fit(x[40:], y[40:], chunk_size=1)])
    assert torch.equal(L_one, L_split)
    for a, b, name in zip(learner_state(one), learner_state(split), STATE):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_state_dict_resume_equals_uninterrupted(feedback):
    T, B, I, n, O, k = 200, 3, 3, 5, 3, 77
    x, y, _, _ = online_problem(T, B, I, n, O, "cross_entropy", seed=57)
    straight = make_learner(I, n, O, 0.5, feedback, "cross_entropy", B, seed=58)
    L_straight = straight.fit(x, y)

    first = make_learner(I, n, O, 0.5, feedback, "cross_entropy", B, seed=58)
    L_first = first.fit(x[:k], y[:k])
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    saved_keys = set(first.state_dict())
    assert {"hidden", "trace"} <= saved_keys
    assert ("feedback" in saved_keys) == (feedback == "random")
    del first
    buffer.seek(0)
    # a learner built differently (other seed: other weights and other random feedback) then restored
    resumed = make_learner(I, n, O, 0.5, feedback, "cross_entropy", B, seed=999)
    resumed.load_state_dict(torch.load(buffer))
    L_rest = resumed.fit(x[k:], y[k:])
    assert torch.equal(torch.cat([L_first, L_rest]), L_straight)
    for a, b, name in zip(learner_state(resumed), learner_state(straight), STATE):
        assert torch.equal(a, b), name
    if feedback == "random":
        assert torch.equal(resumed.feedback, straight.feedback)


def test_state_dict_deepcopy_resume():
    T, B, I, n, O, k = 120, 2, 3, 4, 2, 50
    x, y, _, _ = online_problem(T, B, I, n, O, "mse", seed=59)
    straight = make_learner(I, n, O, 1.0, "symmetric", "mse", B, seed=60)
    L_straight = straight.fit(x, y)
    first = make_learner(I, n, O, 1.0, "symmetric", "mse", B, seed=60)
    first.fit(x[:k], y[:k])
    snapshot = copy.deepcopy(first.state_dict())
    first.fit(x[k:], y[k:])  # continue: the snapshot must not move with it
    other = make_learner(I, n, O, 1.0, "symmetric", "mse", B, seed=61)
    other.load_state_dict(snapshot)
    assert torch.equal(other.fit(x[k:], y[k:]), L_straight[k:])
    for a, b, name in zip(learner_state(other), learner_state(straight), STATE):
        assert torch.equal(a, b), name


def test_reset_state_and_evaluate():
    T, B, I, n, O = 40, 2, 3, 5, 3
    learner = make_learner(I, n, O, 0.5, "symmetric", "cross_entropy", B, seed=62)
    x, y, _, _ = online_problem(T, B, I, n, O, "cross_entropy", seed=63)
    learner.fit(x, y)
    assert learner.hidden.abs().sum() > 0 and learner.trace.abs().sum() > 0
    before = [s.detach().clone() for s in learner_state(learner)]
    # evaluate: learning off, from zeros, learner untouched
    got = learner.evaluate(x, y)
    W = [p.detach() for p in (learner.rnn.weight_hh_l0, learner.rnn.weight_ih_l0, learner.rnn.bias_ih_l0)]
    a = R.leaky_rnn_forward(x, None, *W, 0.5, "tanh")
    want, _ = R.readout_loss(a @ learner.readout.weight.detach().T + learner.readout.bias.detach(), y,
                             "cross_entropy")
    assert_rel(got, want, 1e-12, "evaluate")
    assert_rel(learner.evaluate(x[:, 0], y[:, 0]), want[:, 0], 1e-12, "evaluate unbatched")
    h = torch.randn(B, n, dtype=DT)
    a = R.leaky_rnn_forward(x, h, *W, 0.5, "tanh")
    want, _ = R.readout_loss(a @ learner.readout.weight.detach().T + learner.readout.bias.detach(), y,
                             "cross_entropy")
    assert_rel(learner.evaluate(x, y, hidden=h), want, 1e-12, "evaluate from hidden")
    for a_, b_, name in zip(learner_state(learner), before, STATE):
        assert torch.equal(a_, b_), f"evaluate changed {name}"
    learner.reset_state()
    assert torch.count_nonzero(learner.hidden) == 0 and torch.count_nonzero(learner.trace) == 0
    for a_, b_, name in zip(learner_state(learner)[2:], before[2:], STATE[2:]):
        assert torch.equal(a_, b_), f"reset_state changed {name}"


def test_lr_zero_learns_nothing():
    T, B, I, n, O = 30, 2, 3, 4, 3
    learner = make_learner(I, n, O, 0.5, "symmetric", "mse", B, seed=64, lr=0.0)
    x, y, _, _ = online_problem(T, B, I, n, O, "mse", seed=65)
    before = [s.detach().clone() for s in learner_state(learner)[2:]]
    losses = learner.fit(x, y)
    for a, b in zip(learner_state(learner)[2:], before):
        assert torch.equal(a, b)
    a = R.leaky_rnn_forward(x, None, *before[:3], 0.5, "tanh")
    assert_rel(learner.hidden, a[-1], 1e-13, "hidden")
    want, _ = R.readout_loss(a @ before[3].T + before[4], y, "mse")
    assert_rel(losses, want, 1e-13, "losses")


def test_fit_float32_learner_close_to_float64_reference():
    T, B, I, n, O = 200, 2, 3, 6, 3
    learner = make_learner(I, n, O, 0.5, "symmetric", "cross_entropy", B, seed=66)
    start = [s.detach().clone() for s in learner_state(learner)]
    learner = learner.float()
    x, y, _, _ = online_problem(T, B, I, n, O, "cross_entropy", seed=67)
    ref = R.rflo_online(x, y, *start, None, alpha=0.5, loss="cross_entropy", lr=0.05)
    losses = learner.fit(x.float(), y.float())
    assert losses.dtype == torch.float32
    check_against_reference(losses, [s.detach() for s in learner_state(learner)], ref, tol=1e-4)


def test_mse_mean_is_mse_with_the_rate_divided_by_the_outputs():
    """mse's e = z - y is n_out times the gradient of the reported loss (the papers' quirk); mse_mean's is the
    gradient itself. Every update of online RFLO is linear in e, so mse_mean at lr equals mse at lr / n_out."""
    T, B, I, n, O = 120, 2, 3, 6, 4
    x, y, state, fb = online_problem(T, B, I, n, O, "mse", seed=45)
    mean_state, sum_state = [s.clone() for s in state], [s.clone() for s in state]
    l_mean = ops.rflo_online(x, y, *mean_state, fb, alpha=0.6, loss="mse_mean", lr=0.2)
    l_sum = ops.rflo_online(x, y, *sum_state, fb, alpha=0.6, loss="mse", lr=0.2 / O)
    assert_rel(l_mean, l_sum, 1e-12, "losses")
    for a, b, name in zip(mean_state, sum_state, STATE):
        assert_rel(a, b, 1e-12, name)
    assert rel_err(mean_state[2], state[2]) > 1e-3, "weight_hh did not learn"
