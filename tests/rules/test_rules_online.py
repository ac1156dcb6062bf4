"""Online forms of output_only, rtrl, f_bptt, e_bptt (ops.online_learn) and of every rule through
OnlineLearner (eprop = RFLO with trace_alpha = alpha included) against the reference per-step loops
with per-step SGD (docs/algorithms.md §2.1, §3.1, §3.2, §3.6, §3.9, §3.10), float64, after hundreds of
steps; the online form with the weight update off (lr = 0, rec_grad) against the sequence form;
the cross-check of §3.10 on Add(4, 6); checkpoint / resume and chunking for every rule."""
import io

import pytest
import torch

from helpers import DT, ONLINE_TOL, assert_rel, generator, network, one_hot_targets, randn, rel_err, soft_targets, local_rnn
from torch_local_rnn import LocalRNN, OnlineLearner, ops, reference as R, rules, tasks

WEIGHTS = ["weight_hh", "weight_ih", "bias", "weight_out", "bias_out"]
LOCAL = {"output_only": rules.OutputOnly(), "rtrl": rules.RTRL(), "f_bptt": rules.FBPTT(truncation=7),
         "e_bptt": rules.EBPTT(window=8)}
# RTRL's reference loop is O(n^4) per step: its long runs against it are in the slow tier
LOCAL_LONG = [pytest.param(name, marks=pytest.mark.slow) if name == "rtrl" else name for name in LOCAL]


def online_problem(T, B, I, n, O, loss, seed):
    """x, y, hidden and the five weights [W_hh, W_ih, b, W_out, b_out]."""
    W, U, b = network(n, I, seed)
    g = generator(seed + 500)
    y = soft_targets(T, B, O, g) if loss == "cross_entropy" else randn(T, B, O, gen=g)
    if loss == "cross_entropy" and seed % 2:  # one-hot labels too
        y = one_hot_targets(T, B, O, g)
    weights = [W, U, b, randn(O, n, gen=g, scale=n ** -0.5), randn(O, gen=g, scale=0.1)]
    return randn(T, B, I, gen=g), y, randn(B, n, gen=g, scale=0.3), weights


def run_op(rule, x, y, hidden, weights, state, feedback=None, alpha=1.0, nonlinearity="tanh", loss="cross_entropy",
           lr=0.05, rec_grad=True):
    """online_learn on copies; returns (losses, hidden, weights, state list, rec_grad)."""
    hidden, weights = hidden.clone(), [w.clone() for w in weights]
    n, I = weights[0].shape[0], x.shape[2]
    acc = torch.zeros(n, n + I + 1, dtype=x.dtype) if rec_grad else None
    losses = ops.online_learn(rule.name, x, y, hidden, *weights, state, acc, feedback, alpha, nonlinearity, loss, lr,
                              rule.online_options(alpha))
    return losses, hidden, weights, state, acc


def run_reference(rule, x, y, hidden, weights, feedback=None, alpha=1.0, nonlinearity="tanh", loss="cross_entropy",
                  lr=0.05, influence=None):
    kw = dict(feedback=feedback, alpha=alpha, nonlinearity=nonlinearity, loss=loss, lr=lr)
    if rule.name == "output_only":
        return R.output_only_online(x, y, hidden, *weights, **kw)
    if rule.name == "rtrl":
        B, n = hidden.shape
        if influence is None:
            influence = torch.zeros(B, n, n * (n + x.shape[2] + 1), dtype=x.dtype)
        return R.rtrl_online(x, y, hidden, influence, *weights, **kw)
    if rule.name == "f_bptt":
        return R.f_bptt_online(x, y, hidden, *weights, rule.truncation, **kw)
    if rule.name == "e_bptt":
        return R.e_bptt_online(x, y, hidden, *weights, rule.window, **kw)
    raise ValueError(rule)


def expected_count(rule, T):
    """The op's step counter after T steps from zero: f_bptt keeps it in [0, 2K) with the same value mod K and
    the same 'buffer full' (>= K); e_bptt holds the position in the current window."""
    if rule.name == "f_bptt":
        K = rule.truncation
        return T if T < K else K + (T - K) % K
    return T % rule.window


def check_rule_state(rule, state, ref, T, tol=ONLINE_TOL, context=""):
    """The carried tensors against the reference's: RTRL's influence; the live slots (slot = step mod K) of the
    truncated BPTTs' ring buffers and their counter."""
    if rule.name == "output_only":
        assert state == [] and ref.state == {}
    elif rule.name == "rtrl":
        assert_rel(state[0], ref.state["influence"], tol, f"{context} influence")
    else:
        K = rule.truncation if rule.name == "f_bptt" else rule.window
        live = ref.state["history"]
        assert len(live) == (min(T, K - 1) if rule.name == "f_bptt" else T % K)
        assert state[3].item() == expected_count(rule, T), f"{context} count {state[3].item()}"
        for s, dphi, ahat, credit in live:
            slot = s % K
            assert_rel(state[0][slot], dphi, tol, f"{context} dphi_history[{slot}]")
            assert_rel(state[1][slot], ahat, tol, f"{context} input_history[{slot}]")
            assert_rel(state[2][slot], credit, tol, f"{context} credit_history[{slot}]")


def check_against_reference(got, ref, rule, T, tol=ONLINE_TOL, context=""):
    losses, hidden, weights, state, acc = got
    assert_rel(losses, ref.losses, tol, f"{context} losses")
    assert_rel(hidden, ref.hidden, tol, f"{context} hidden")
    for w, name in zip(weights, WEIGHTS):
        assert_rel(w, getattr(ref, name), tol, f"{context} {name}")
    if acc is not None:
        assert_rel(acc, ref.rec_grad, tol, f"{context} rec_grad")
    check_rule_state(rule, state, ref, T, tol, context)


# ----------------------------------------------------------------------------- op against the reference loops
@pytest.mark.parametrize("loss,alpha", [("cross_entropy", 1.0), ("mse", 0.6), ("cross_entropy", 0.3)])
@pytest.mark.parametrize("B", [1, 2])
@pytest.mark.parametrize("name", LOCAL_LONG)
def test_online_learn_matches_reference(name, B, loss, alpha):
    T, I, n, O = 300, 3, 5, 3
    rule = LOCAL[name]
    x, y, hidden, weights = online_problem(T, B, I, n, O, loss, seed=211 + B)
    state = list(rule.online_state(B, n, I, dtype=DT).values())
    ref = run_reference(rule, x, y, hidden, weights, alpha=alpha, loss=loss)
    got = run_op(rule, x, y, hidden, weights, state, alpha=alpha, loss=loss)
    check_against_reference(got, ref, rule, T, context=f"{name} B={B} {loss} alpha={alpha}")
    moved = [rel_err(w, w0) for w, w0 in zip(got[2], weights)]
    assert min(moved[3:]) > 1e-3, "the readout did not learn"
    if name == "output_only":
        assert all(torch.equal(w, w0) for w, w0 in zip(got[2][:3], weights[:3]))
        assert torch.count_nonzero(got[4]) == 0
    else:
        assert min(moved[:3]) > 1e-4, f"{name}: the recurrent weights did not learn ({moved[:3]})"


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "relu"])
@pytest.mark.parametrize("name", LOCAL_LONG)
def test_online_learn_feedback_and_other_nonlinearities(name, nonlinearity):
    """A fixed feedback matrix (q = W_FB^T e), relu / sigmoid, alpha < 1; RTRL from a non-zero influence."""
    T, B, I, n, O = 120, 2, 3, 5, 2
    rule = LOCAL[name]
    x, y, hidden, weights = online_problem(T, B, I, n, O, "mse", seed=215)
    fb = randn(O, n, gen=generator(216), scale=O ** -0.5)
    state = list(rule.online_state(B, n, I, dtype=DT).values())
    influence = None
    if name == "rtrl":
        state[0].copy_(randn(*state[0].shape, gen=generator(217), scale=0.1))
        influence = state[0].clone()
    kw = dict(feedback=fb, alpha=0.7, nonlinearity=nonlinearity, loss="mse", lr=0.03)
    ref = run_reference(rule, x, y, hidden, weights, influence=influence, **kw)
    got = run_op(rule, x, y, hidden, weights, state, **kw)
    check_against_reference(got, ref, rule, T, context=f"{name} {nonlinearity} feedback")


@pytest.mark.parametrize("name", list(LOCAL))
def test_online_learn_in_pieces_equals_one_call(name):
    """The carried state makes any split of the stream one run (f_bptt's counter wraps; e_bptt's windows
    straddle the calls)."""
    T, B, I, n, O = 61, 2, 3, 4, 3
    rule = LOCAL[name]
    x, y, hidden, weights = online_problem(T, B, I, n, O, "cross_entropy", seed=218)
    whole = run_op(rule, x, y, hidden, weights, list(rule.online_state(B, n, I, dtype=DT).values()), alpha=0.5)
    h, w = hidden.clone(), [t.clone() for t in weights]
    state = list(rule.online_state(B, n, I, dtype=DT).values())
    acc = torch.zeros(n, n + I + 1, dtype=DT)
    parts = []
    for start, stop in ((0, 1), (1, 5), (5, 30), (30, 61)):
        parts.append(ops.online_learn(name, x[start:stop], y[start:stop], h, *w, state, acc, None, 0.5, "tanh",
                                      "cross_entropy", 0.05, rule.online_options(0.5)))
    assert torch.equal(torch.cat(parts), whole[0])
    assert torch.equal(h, whole[1])
    for a, b, nm in zip(w, whole[2], WEIGHTS):
        assert torch.equal(a, b), nm
    for a, b in zip(state, whole[3]):
        assert torch.equal(a, b)
    assert torch.equal(acc, whole[4])


def test_online_learn_float32_close_to_float64_reference():
    T, B, I, n, O = 150, 2, 3, 5, 3
    x, y, hidden, weights = online_problem(T, B, I, n, O, "cross_entropy", seed=219)
    for name, rule in LOCAL.items():
        ref = run_reference(rule, x, y, hidden, weights, alpha=0.5)
        state = list(rule.online_state(B, n, I, dtype=torch.float32).values())
        got = run_op(rule, x.float(), y.float(), hidden.float(), [w.float() for w in weights], state, alpha=0.5)
        assert got[0].dtype == torch.float32
        assert_rel(got[0], ref.losses, 1e-4, f"float32 {name} losses")
        for w, nm in zip(got[2], WEIGHTS):
            assert_rel(w, getattr(ref, nm), 1e-4, f"float32 {name} {nm}")


# ----------------------------------------------------------------------------- OnlineLearner, every rule
ALL = {"output_only": rules.OutputOnly(), "rtrl": rules.RTRL(), "f_bptt": rules.FBPTT(truncation=6),
       "e_bptt": rules.EBPTT(window=9), "eprop": rules.EProp(), "rflo": rules.RFLO(trace_alpha=0.3),
       "uoro": rules.UORO(), "kf_rtrl": rules.KFRTRL(noise_kind="gaussian"), "rkf_rtrl": rules.RKFRTRL(),
       "kernl": rules.KeRNL(sigma=0.01, lr=0.5, reset_interval=7), "dni": rules.DNI(lr_sg=0.05, fix_interval=3),
       "dni_b": rules.DNIb(lr_sg=0.05, lr_j=0.02)}


def make_learner(I, n, O, alpha, rule, loss, batch_size, seed, lr=0.05):
    g = generator(seed)
    online_only = not rules.resolve(rule).has_sequence_form  # dni, dni_b: the learner gets the rule
    rnn = LocalRNN(I, n, alpha=alpha, rule="bptt" if online_only else rule, dtype=DT, generator=g)
    readout = torch.nn.Linear(n, O, dtype=DT)
    with torch.no_grad():
        readout.weight.copy_(randn(O, n, gen=g, scale=n ** -0.5))
        readout.bias.copy_(randn(O, gen=g, scale=0.1))
    return OnlineLearner(rnn, readout, loss=loss, lr=lr, batch_size=batch_size, generator=g,
                         rule=rule if online_only else None)


def learner_weights(learner):
    return [p.detach() for p in (learner.rnn.weight_hh_l0, learner.rnn.weight_ih_l0, learner.rnn.bias_ih_l0,
                                 learner.readout.weight, learner.readout.bias)]


def learner_state(learner):
    return [learner.hidden] + [getattr(learner, k) for k in learner._state_names] + learner_weights(learner)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "mse_mean"])
@pytest.mark.parametrize("B", [1, 2])
@pytest.mark.parametrize("name", ["output_only", "rtrl", "f_bptt", "e_bptt", "eprop"])
def test_online_learner_every_rule_matches_reference(name, B, loss):
    T, I, n, O, alpha = 300, 3, 5, 3, 0.6
    learner = make_learner(I, n, O, alpha, ALL[name], loss, B, seed=221)
    assert learner.rule.name == name
    x, y, _, _ = online_problem(T, B, I, n, O, loss, seed=222)
    weights = [w.clone() for w in learner_weights(learner)]
    hidden = learner.hidden.clone()
    if name == "eprop":  # e-prop is RFLO with the trace rate alpha: the RFLO reference
        assert learner._state_names == ["trace"]
        ref = R.rflo_online(x, y, hidden, torch.zeros(B, n, n + I + 1, dtype=DT), *weights, None, alpha=alpha,
                            trace_alpha=None, loss=loss, lr=0.05)
    else:
        ref = run_reference(ALL[name], x, y, hidden, weights, alpha=alpha, loss=loss)
    losses = learner.fit(x[:, 0], y[:, 0])[:, None] if B == 1 else learner.fit(x, y)
    assert losses.shape == (T, B)
    assert_rel(losses, ref.losses, ONLINE_TOL, f"{name} losses")
    assert_rel(learner.hidden, ref.hidden, ONLINE_TOL, f"{name} hidden")
    for w, nm in zip(learner_weights(learner), WEIGHTS):
        assert_rel(w, getattr(ref, nm), ONLINE_TOL, f"{name} {nm}")
    if name == "eprop":
        assert_rel(learner.trace, ref.trace, ONLINE_TOL, "eprop trace")
    else:
        check_rule_state(ALL[name], [getattr(learner, k) for k in learner._state_names], ref, T, context=name)


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("k", [3, 40])
def test_checkpoint_resume_equals_uninterrupted(name, k):
    """state_dict() mid-run (k = 3: f_bptt's buffer not yet full, inside e_bptt's first window; k = 40: the
    counter has wrapped, mid-window) into a differently built learner, then continue: one run."""
    T, B, I, n, O = 100, 2, 3, 4, 3
    x, y, _, _ = online_problem(T, B, I, n, O, "cross_entropy", seed=223)
    straight = make_learner(I, n, O, 0.5, ALL[name], "cross_entropy", B, seed=224)
    L_straight = straight.fit(x, y)

    first = make_learner(I, n, O, 0.5, ALL[name], "cross_entropy", B, seed=224)
    L_first = first.fit(x[:k], y[:k])
    assert set(first._state_names) <= set(first.state_dict())
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    del first
    buffer.seek(0)
    resumed = make_learner(I, n, O, 0.5, ALL[name], "cross_entropy", B, seed=999)
    resumed.load_state_dict(torch.load(buffer))
    L_rest = resumed.fit(x[k:], y[k:])
    assert torch.equal(torch.cat([L_first, L_rest]), L_straight)
    for a, b in zip(learner_state(resumed), learner_state(straight)):
        assert torch.equal(a, b)
    # a learner that did not load the checkpoint does not continue the same way (the check can fail)
    fresh = make_learner(I, n, O, 0.5, ALL[name], "cross_entropy", B, seed=999)
    assert not torch.equal(fresh.fit(x[k:], y[k:]), L_straight[k:])


@pytest.mark.parametrize("name", list(ALL))
def test_chunked_fit_and_reset_state(name):
    T, B, I, n, O = 53, 2, 3, 4, 3
    x, y, _, _ = online_problem(T, B, I, n, O, "mse", seed=225)
    one = make_learner(I, n, O, 1.0, ALL[name], "mse", B, seed=226)
    chunked = make_learner(I, n, O, 1.0, ALL[name], "mse", B, seed=226)
    assert torch.equal(one.fit(x, y), chunked.fit(x, y, chunk_size=4))
    for a, b in zip(learner_state(one), learner_state(chunked)):
        assert torch.equal(a, b)
    before = [w.clone() for w in learner_weights(one)]
    trained = {k: getattr(one, k).clone() for k in one._state_names}
    one.reset_state()
    assert torch.count_nonzero(one.hidden) == 0 and int(one.steps_done) == 0
    start = one.rule.online_state(B, n, I, outputs=O, weight_hh=one.rnn.weight_hh_l0, dtype=DT)
    for k in one._state_names:
        if k in one.rule.learned_state:      # KeRNL's A and rates, DNI's apical weights and W_a: kept
            assert torch.equal(getattr(one, k), trained[k]), k
        elif k.startswith("factor_") or k == "kernl_zeta":  # re-drawn at random
            assert not torch.equal(getattr(one, k), trained[k]) and torch.isfinite(getattr(one, k)).all(), k
        else:                                # traces, histories, counters: back to their start
            assert torch.equal(getattr(one, k), start[k]), k
    for a, b in zip(learner_weights(one), before):
        assert torch.equal(a, b)


# ----------------------------------------------------------------------------- online (lr = 0) == sequence form
def readout_credit(x, y, hidden, weights, alpha, loss):
    """g_t = W_out^T e_t with the fixed readout, from the reference forward."""
    a = R.leaky_rnn_forward(x, hidden, *weights[:3], alpha, "tanh")
    _, e = R.readout_loss(a @ weights[3].T + weights[4], y, loss)
    return a, e @ weights[3]


def sequence_gradient(rule, x, hidden, weights, alpha, g, options):
    out, dphi = ops.leaky_rnn_forward(x, hidden, *weights[:3], alpha, "tanh")
    _, _, gW, gU, gb = ops.leaky_rnn_rule_backward(g, x, hidden, weights[0], weights[1], out, dphi, alpha, rule,
                                                   options)
    return torch.cat([gW, gU, gb[:, None]], dim=1)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "mse_mean"])
@pytest.mark.parametrize("B", [1, 2])
@pytest.mark.parametrize("name", ["output_only", "rtrl", "f_bptt", "e_bptt", "rflo"])
def test_online_with_update_off_equals_sequence_form(name, B, loss):
    """lr = 0: the weights stay put and rec_grad accumulates the rule's estimate (mean over streams), which is
    the sequence form's gradient (sum over streams) with g_t = W_out^T e_t. F-BPTT(K) online has applied the
    updates of steps 0 .. T'-K after T' steps: run it K-1 steps longer on targets with e = 0. E-BPTT online has
    applied full windows only: the sequence form over the full windows."""
    T, I, n, O, alpha = 40, 3, 5, 3, 0.6
    rule = LOCAL[name] if name in LOCAL else rules.RFLO()  # RFLO: its rec_grad (the step forms G for it)
    x, y, hidden, weights = online_problem(T, B, I, n, O, loss, seed=227)
    _, g = readout_credit(x, y, hidden, weights, alpha, loss)
    options = rule.online_options(alpha)
    want = sequence_gradient(name, x, hidden, weights, alpha, g, options)
    x_on, y_on = x, y
    if name == "f_bptt":
        pad = rule.truncation - 1
        x_on = torch.cat([x, randn(pad, B, I, gen=generator(228))])
        a, _ = readout_credit(x_on, torch.cat([y, y[:pad]]), hidden, weights, alpha, loss)
        z = a[T:] @ weights[3].T + weights[4]
        y_on = torch.cat([y, z if loss != "cross_entropy" else torch.softmax(z, -1)])  # e_t = 0 on the padding
    state = list(rule.online_state(B, n, I, dtype=DT).values())
    losses, h, w, _, acc = run_op(rule, x_on, y_on, hidden, weights, state, alpha=alpha, loss=loss, lr=0.0)
    for a, b, nm in zip(w, weights, WEIGHTS):
        assert torch.equal(a, b), f"lr = 0 moved {nm}"
    if name == "output_only":
        assert torch.count_nonzero(acc) == 0 and torch.count_nonzero(want) == 0
    else:
        assert want.norm() > 0
        assert_rel(acc * B, want, ONLINE_TOL, f"{name} B={B} {loss}: online rec_grad vs sequence form")
    if name == "e_bptt":  # a stream that ends inside a window: only the full windows are in rec_grad
        K = rule.window
        T2 = T + 3
        x2, y2, _, _ = online_problem(T2, B, I, n, O, loss, seed=229)
        full = (T2 // K) * K
        _, g2 = readout_credit(x2[:full], y2[:full], hidden, weights, alpha, loss)
        want2 = sequence_gradient(name, x2[:full], hidden, weights, alpha, g2, options)
        *_, acc2 = run_op(rule, x2, y2, hidden, weights, list(rule.online_state(B, n, I, dtype=DT).values()),
                          alpha=alpha, loss=loss, lr=0.0)
        assert_rel(acc2 * B, want2, ONLINE_TOL, "e_bptt partial last window")


@pytest.mark.parametrize("name", ["f_bptt", "e_bptt"])
def test_online_truncation_at_least_the_stream_is_bptt(name):
    """lr = 0, B = 1, a window / truncation as long as the stream: the estimate is the exact gradient
    (autograd through the reference forward) of the summed losses."""
    T, B, I, n, O, alpha = 24, 1, 3, 5, 3, 0.6
    rule = rules.FBPTT(truncation=T) if name == "f_bptt" else rules.EBPTT(window=T)
    x, y, hidden, weights = online_problem(T, B, I, n, O, "mse", seed=230)
    x_on, y_on = x, y
    if name == "f_bptt":
        x_on = torch.cat([x, randn(T - 1, B, I, gen=generator(231))])
        a = R.leaky_rnn_forward(x_on, hidden, *weights[:3], alpha, "tanh")
        y_on = torch.cat([y, a[T:] @ weights[3].T + weights[4]])
    *_, acc = run_op(rule, x_on, y_on, hidden, weights, list(rule.online_state(B, n, I, dtype=DT).values()),
                     alpha=alpha, loss="mse", lr=0.0)
    W, U, b = (t.clone().requires_grad_(True) for t in weights[:3])
    a = R.leaky_rnn_forward(x, hidden, W, U, b, alpha, "tanh")
    e = a @ weights[3].T + weights[4] - y
    total = 0.5 * (e * e).sum()  # e_t is the gradient of 1/2 sum (docs/algorithms.md §1)
    exact = torch.cat([gr if gr.dim() == 2 else gr[:, None] for gr in torch.autograd.grad(total, [W, U, b])], 1)
    assert_rel(acc, exact, ONLINE_TOL, f"{name} online vs exact gradient")


# ----------------------------------------------------------------------------- the cross-check of §3.10
def test_rtrl_fbptt_ebptt_reach_the_same_weights_on_add_task():
    """docs/algorithms.md §3.10: RTRL, F-BPTT(25) and E-BPTT(100) reach the same W_rec (atol 1e-4) after 400
    steps of Add(4, 6), n = 16, alpha = 1, lr = 1e-5, from the same initial weights."""
    n, steps, lr = 16, 400, 1e-5
    task = tasks.AddTask(4, 6)
    x, y = task.generate(steps, batch=1, seed=3, dtype=DT)
    g = generator(232)
    init = LocalRNN(task.input_size, n, alpha=1.0, generator=g, dtype=DT)
    W_out = randn(task.output_size, n, gen=g, scale=n ** -0.5)  # N(0, 1/n), b_out = 0 (§1.1)
    W0 = init.weight_hh_l0.detach().clone()
    final = {}
    for rule in (rules.RTRL(), rules.FBPTT(truncation=25), rules.EBPTT(window=100), rules.OutputOnly()):
        rnn = local_rnn(task.input_size, n, weights=(init.weight_hh_l0, init.weight_ih_l0, init.bias_ih_l0), alpha=1.0, rule=rule, dtype=DT)
        readout = torch.nn.Linear(n, task.output_size, dtype=DT)
        with torch.no_grad():
            readout.weight.copy_(W_out)
            readout.bias.zero_()
        OnlineLearner(rnn, readout, loss="cross_entropy", lr=lr).fit(x[:, 0], y[:, 0])
        final[rule.name] = rnn.weight_hh_l0.detach().clone()
    for other in ("f_bptt", "e_bptt"):
        assert torch.allclose(final[other], final["rtrl"], rtol=0, atol=1e-4), (
            f"{other}: max |W - W_rtrl| = {(final[other] - final['rtrl']).abs().max():.3e}")
    # the weights did move, and the three rules agree much better than with no recurrent learning at all
    change = (final["rtrl"] - W0).norm()
    assert change > 1e-5
    assert torch.equal(final["output_only"], W0)
    for other in ("f_bptt", "e_bptt"):
        assert (final[other] - final["rtrl"]).norm() < 0.5 * change, other


@pytest.mark.parametrize("name", ["rflo", "rtrl", "kernl", "dni"])
def test_a_parallel_step_equals_one_thread_bitwise(name):
    """Big enough that the step's phases run as parallel loops (docs/design.md §1.5): any thread may run any
    chunk, and the arithmetic must not change."""
    from torch_local_rnn import LocalRNN, OnlineLearner
    n, B, T = (24, 4, 3) if name == "rtrl" else (96, 16, 4)
    results = []
    for threads in (1, 2):
        before = torch.get_num_threads()
        g = torch.Generator().manual_seed(3)
        torch.manual_seed(3)  # the readout's initial weights
        learner = OnlineLearner(LocalRNN(8, n, generator=g, dtype=DT), torch.nn.Linear(n, 2).to(DT),
                                rule=name, batch_size=B, lr=0.01, generator=g)  # (built on the same threads: QR)
        torch.set_num_threads(threads)
        try:
            x = randn(T, B, 8, gen=generator(4))
            y = torch.softmax(randn(T, B, 2, gen=generator(5)), -1)
            results.append((learner.fit(x, y), learner.rnn.weight_hh_l0.detach().clone(), learner.hidden.clone()))
        finally:
            torch.set_num_threads(before)
    for one, two in zip(*results):
        assert torch.equal(one, two)
