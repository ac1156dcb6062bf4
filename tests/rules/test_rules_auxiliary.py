"""KeRNL (docs/algorithms.md §3.7) and DNI / DNI(b) (§3.8, §4), float64: the online forms against the independent
per-step references (300 steps, per-step SGD, the same noise draws); KeRNL's sequence form against its
reference; the identities KeRNL(A = I, frozen rates = alpha) = RFLO and DNI(exact J, true credit) = BPTT;
DNI's recorded apical signals; DNI's missing sequence form is a clear error."""
import pytest
import torch

from helpers import DT, ONLINE_TOL, TOL, assert_rel, generator, problem, randn, rel_err
from test_rules_online import WEIGHTS, make_learner, online_problem
from torch_local_rnn import LocalRNN, ops, reference as R, rules


def run_op(cfg, x, y, hidden, weights, state, alpha, loss, lr, tensors=(), record=None, feedback=None):
    hidden, weights, state = hidden.clone(), [w.clone() for w in weights], [s.clone() for s in state]
    n, I = weights[0].shape[0], x.shape[2]
    acc = torch.zeros(n, n + I + 1, dtype=DT)
    losses = ops.online_learn(cfg.name, x, y, hidden, *weights, state, acc, feedback, alpha, "tanh", loss, lr,
                              cfg.online_options(alpha), list(tensors), record)
    return losses, hidden, weights, state, acc


def check(got, ref, names, ctx):
    losses, hidden, weights, state, acc = got
    assert_rel(losses, ref.losses, ONLINE_TOL, f"{ctx} losses")
    assert_rel(hidden, ref.hidden, ONLINE_TOL, f"{ctx} hidden")
    for w, nm in zip(weights, WEIGHTS):
        assert_rel(w, getattr(ref, nm), ONLINE_TOL, f"{ctx} {nm}")
    assert_rel(acc, ref.rec_grad, ONLINE_TOL, f"{ctx} rec_grad")
    for s, nm in zip(state, names):
        if ref.state[nm].abs().max() > 0:
            assert_rel(s, ref.state[nm], ONLINE_TOL, f"{ctx} {nm}")
        else:
            assert torch.equal(s, ref.state[nm]), f"{ctx} {nm}"


# ----------------------------------------------------------------------------- KeRNL
KERNL_VARIANTS = [("2020", False), ("2019-approx", False), ("2019-exact", False), ("2019-approx", True),
                  ("2019-exact", True)]


@pytest.mark.parametrize("version,learned_alpha_e", KERNL_VARIANTS)
@pytest.mark.parametrize("reset", [None, 7])
@pytest.mark.parametrize("loss,alpha", [("cross_entropy", 1.0), ("mse", 0.6)])
@pytest.mark.parametrize("B", [1, 2])
def test_kernl_online_matches_reference(B, loss, alpha, reset, version, learned_alpha_e):
    T, I, n, O = 300, 3, 5, 3
    cfg = rules.KeRNL(sigma=0.05, lr=0.3, reset_interval=reset, version=version, learned_alpha_e=learned_alpha_e)
    x, y, hidden, weights = online_problem(T, B, I, n, O, loss, seed=401 + B)
    g = generator(402)
    init = cfg.online_state(B, n, I, generator=g, dtype=DT)
    init["kernl_perturbed"] = hidden + randn(B, n, gen=g, scale=0.1)  # the copy starts off the network
    noise = cfg.noise(T, B, n, g, dtype=DT)[0]
    got = run_op(cfg, x, y, hidden, weights, list(init.values()), alpha, loss, 0.05, [noise])
    ref = R.kernl_online(x, y, hidden, init, *weights, noise, sigma=0.05, lr_aux=0.3, reset_interval=reset,
                         alpha=alpha, loss=loss, lr=0.05, version=version, learned_alpha_e=learned_alpha_e)
    check(got, ref, list(init), f"kernl {version} {learned_alpha_e} B={B} {loss} reset={reset}")
    A, rates = got[3][1], got[3][2]
    assert (A - torch.eye(n, dtype=DT)).norm() > 1e-3 and (rates - init["kernl_rates"]).norm() > 1e-4, \
        "A and the rates did not learn"


@pytest.mark.parametrize("version,learned_alpha_e", KERNL_VARIANTS)
@pytest.mark.parametrize("B", [1, 3])
def test_kernl_sequence_form_matches_reference(B, version, learned_alpha_e):
    T, I, n, alpha = 15, 3, 5, 0.7
    p = problem(T, B, I, n, seed=403)
    g = generator(404)
    A, rates = randn(n, n, gen=g, scale=0.5) + torch.eye(n, dtype=DT), torch.rand(n, generator=g, dtype=DT) * 1.2
    out, dphi = ops.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha, "tanh")
    got = ops.leaky_rnn_rule_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi,
                                      alpha, "kernl", rules.KeRNL(version=version, learned_alpha_e=learned_alpha_e)
                                      .sequence_options(alpha), [A, rates])
    want = R.kernl_sequence_grads(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha, "tanh",
                                  p["grad_output"], A, rates, version=version, learned_alpha_e=learned_alpha_e)
    for a, b in zip(got, want):
        assert_rel(a, b, TOL, "kernl sequence form")


def test_kernl_versions_follow_the_spec():
    """The 2019 variants against their equations directly (one step of the filters from a known state), and
    the exact kernel's rates drawn as 10^-U(0, 2)."""
    k = R.kernl_kernel(torch.tensor([0.5, 1.5, 0.01], dtype=DT), "2019-exact")
    assert_rel(k, torch.exp(-torch.tensor([0.5, 1.5, 0.01], dtype=DT)), 1e-15, "exact kernel")
    assert_rel(R.kernl_kernel(torch.tensor([0.5, 1.5], dtype=DT)), torch.tensor([0.5, 0.0], dtype=DT), 1e-15, "approx")
    rates = rules.KeRNL(version="2019-exact").online_state(1, 4000, 2, generator=generator(5), dtype=DT)["kernl_rates"]
    logs = -torch.log10(rates)
    assert logs.min() >= 0 and logs.max() <= 2 and abs(logs.mean().item() - 1) < 0.05, "10^-U(0, 2)"
    assert torch.equal(rules.KeRNL(version="2019-approx").online_state(1, 4, 2, dtype=DT)["kernl_rates"],
                       torch.full((4,), 0.8, dtype=DT))
    with pytest.raises(ValueError, match="version in"):
        rules.KeRNL(version="2018")


def test_kernl_with_identity_and_frozen_rates_is_rflo():
    """A = I and rates alpha~ = alpha held fixed (lr 0): the kernel is 1 - alpha, RFLO's trace decay, and
    diag(A^T q) B = diag(q) B. (The issue's "alpha~ = 1 - alpha" names the kernel k = 1 - alpha~ = 1 - alpha.)
    Sequence form: the same gradients; online form: the same run, step for step."""
    T, B, I, n, O, alpha = 120, 2, 3, 5, 3, 0.4
    p = problem(20, B, I, n, seed=405)
    out, dphi = ops.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha, "tanh")
    args = (p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi, alpha)
    kernl = ops.leaky_rnn_rule_backward(*args, "kernl", [], [torch.eye(n, dtype=DT), torch.full((n,), alpha, dtype=DT)])
    rflo = ops.leaky_rnn_rflo_backward(*args, alpha)
    for a, b in zip(kernl, rflo):
        assert_rel(a, b, TOL, "kernl(A=I, rates=alpha) vs rflo, sequence")
    cfg = rules.KeRNL(sigma=0.1, lr=0.0, initial_rates=alpha)
    x, y, hidden, weights = online_problem(T, B, I, n, O, "cross_entropy", seed=406)
    g = generator(407)
    state = list(cfg.online_state(B, n, I, generator=g, dtype=DT).values())
    got = run_op(cfg, x, y, hidden, weights, state, alpha, "cross_entropy", 0.05, cfg.noise(T, B, n, g, dtype=DT))
    ref = R.rflo_online(x, y, hidden, torch.zeros(B, n, n + I + 1, dtype=DT), *weights, None, alpha=alpha,
                        trace_alpha=alpha, loss="cross_entropy", lr=0.05)
    assert_rel(got[0], ref.losses, ONLINE_TOL, "kernl vs rflo online losses")
    for w, nm in zip(got[2], WEIGHTS):
        assert_rel(w, getattr(ref, nm), ONLINE_TOL, f"kernl vs rflo online {nm}")
    assert_rel(got[3][0], ref.trace, ONLINE_TOL, "kernl vs rflo trace")


def test_local_rnn_kernl_reads_its_buffers():
    T, B, I, n = 6, 2, 3, 4
    rnn = LocalRNN(I, n, alpha=0.5, rule=rules.KeRNL(initial_rates=0.5), dtype=DT, generator=generator(408))
    ref = LocalRNN(I, n, alpha=0.5, rule="rflo", dtype=DT, generator=generator(408))
    x = randn(T, B, I, gen=generator(409))
    for m in (rnn, ref):
        m(x)[0].pow(2).sum().backward()
    assert_rel(rnn.weight_hh_l0.grad, ref.weight_hh_l0.grad, TOL, "LocalRNN kernl(I, alpha) vs rflo")
    with torch.no_grad():
        rnn.kernl_mixing.mul_(2.0)
    rnn.weight_hh_l0.grad = None
    rnn(x)[0].pow(2).sum().backward()
    assert_rel(rnn.weight_hh_l0.grad, 2 * ref.weight_hh_l0.grad, TOL, "the mixing buffer is read")
    assert "kernl_mixing" in rnn.state_dict() and "kernl_rates" in rnn.state_dict()


# ----------------------------------------------------------------------------- DNI / DNI(b)
DNI_CONFIGS = {
    "dni": rules.DNI(lr_sg=0.05),
    "dni_b": rules.DNIb(lr_sg=0.05, lr_j=0.05, fix_interval=3),
    "dni_trace": rules.DNI(lr_sg=0.02, alpha_e=0.3, sg_l2=0.01, tanh_target=True, fix_interval=1),
    "dni_b_exact_J": rules.DNIb(approximate_jacobian=False, feedback="symmetric", lr_sg=0.05),
    "dni_b_2019": rules.DNIb(lr_sg=0.05, lr_j=0.05, fix_interval=3, version=2019),
}


@pytest.mark.parametrize("loss,alpha", [("cross_entropy", 1.0), ("mse", 0.6)])
@pytest.mark.parametrize("B", [1, 2])
@pytest.mark.parametrize("key", list(DNI_CONFIGS))
def test_dni_online_matches_reference(key, B, loss, alpha):
    T, I, n, O = 300, 3, 5, 3
    cfg = DNI_CONFIGS[key]
    x, y, hidden, weights = online_problem(T, B, I, n, O, loss, seed=410 + B)
    g = generator(411)
    init = cfg.online_state(B, n, I, outputs=O, generator=g, weight_hh=weights[0], dtype=DT)
    fb = randn(O, n, gen=g, scale=O ** -0.5) if cfg.feedback == "random" else None
    record = torch.full((T, B, 4, n), float("nan"), dtype=DT)
    got = run_op(cfg, x, y, hidden, weights, list(init.values()), alpha, loss, 0.05, record=record, feedback=fb)
    kw = {k: getattr(cfg, k) for k in ("lr_sg", "lr_j", "fix_interval", "approximate_jacobian", "tanh_target",
                                       "alpha_e", "sg_l2")}
    kw["late_jacobian"] = cfg.version == 2019
    ref = R.dni_online(x, y, hidden, init, *weights, feedback=fb, alpha=alpha, loss=loss, lr=0.05, **kw)
    check(got, ref, list(init), f"{key} B={B} {loss}")
    assert_rel(record, ref.state["record"], ONLINE_TOL, f"{key} record")
    assert (got[3][0] - init["sg_weight"]).norm() > 1e-3, "the apical weights did not learn"
    if cfg.approximate_jacobian:
        assert (got[3][2] - weights[0]).norm() > 1e-4, "W_a did not learn"


def test_dni_versions_differ_only_where_the_spec_says():
    """2019: W_a learns after the apical step (so the first bootstrap uses the initial W_a) and A starts as
    [A_a | B_y] ~ N(0, 1/n), C = 0; with an exact J the learning order cannot matter."""
    n, O, I = 40, 3, 2
    A19 = rules.DNIb(version=2019).online_state(1, n, I, outputs=O, generator=generator(7))["sg_weight"]
    A20 = rules.DNIb().online_state(1, n, I, outputs=O, generator=generator(7))["sg_weight"]
    assert torch.equal(A19[:, -1], torch.zeros(n, dtype=A19.dtype)) and A20[:, -1].abs().min() > 0
    assert abs(A19[:, :-1].var().item() * n - 1) < 0.15 and abs(A20.var().item() * (n + O + 1) - 1) < 0.15
    T, B = 40, 2
    x, y, hidden, weights = online_problem(T, B, I, 6, O, "mse", seed=415)
    runs = {}
    for version in (2019, 2020):
        for approx in (True, False):
            cfg = rules.DNIb(lr_sg=0.05, lr_j=0.2, version=version, approximate_jacobian=approx)
            init = rules.DNIb(approximate_jacobian=approx).online_state(B, 6, I, outputs=O, generator=generator(8),
                                                                         weight_hh=weights[0], dtype=DT)
            runs[version, approx] = run_op(cfg, x, y, hidden, weights, list(init.values()), 0.6, "mse", 0.05)
    assert rel_err(runs[2019, True][0], runs[2020, True][0]) > 1e-6, "the W_a order must change the run"
    assert_rel(runs[2019, False][0], runs[2020, False][0], 1e-13, "exact J: the versions' order is moot")
    with pytest.raises(ValueError, match="version 2019 or 2020"):
        rules.DNI(version=2021)


@pytest.mark.parametrize("alpha_e", [0.0])
def test_dni_with_exact_credit_is_bptt(alpha_e):
    """DNI's update with the synthetic gradient replaced by the true credit c_t = dL_{>=t}/da_t (autograd):
    sum_t (c_t (.) alpha phi'(h_t)) ahat_t^T is the BPTT gradient of the summed losses (lr 0, B = 1)."""
    T, B, I, n, O, alpha = 25, 1, 3, 5, 3, 0.6
    x, y, hidden, weights = online_problem(T, B, I, n, O, "mse", seed=412)
    W, U, b = (t.clone().requires_grad_(True) for t in weights[:3])
    # c_t = dL/d(delta_t) for a zero perturbation delta_t added to a_t: the total credit through all later steps
    delta = torch.zeros(T, B, n, dtype=DT, requires_grad=True)
    a, states = hidden, []
    for t in range(T):
        a = (1 - alpha) * a + alpha * torch.tanh(a @ W.T + x[t] @ U.T + b) + delta[t]
        states.append(a)
    e = torch.stack(states) @ weights[3].T + weights[4] - y
    (0.5 * (e * e).sum()).backward()  # e_t is the gradient of 1/2 sum (docs/algorithms.md §1)
    exact = torch.cat([W.grad, U.grad, b.grad[:, None]], 1)
    credit = delta.grad.detach()
    cfg = rules.DNI(alpha_e=alpha_e)
    state = list(cfg.online_state(B, n, I, outputs=O, generator=generator(413), weight_hh=weights[0],
                                  dtype=DT).values())
    *_, acc = run_op(cfg, x, y, hidden, weights, state, alpha, "mse", 0.0, tensors=[credit])
    assert_rel(acc, exact, ONLINE_TOL, "dni with the true credit vs BPTT")
    *_, acc_sg = run_op(cfg, x, y, hidden, weights, state, alpha, "mse", 0.0)
    assert (acc_sg - exact).norm() > 1e-3 * exact.norm(), "the synthetic credit is not the true one"


def test_dni_b_learner_records_apical_signals():
    T, B, I, n, O = 80, 2, 3, 4, 3
    x, y, _, _ = online_problem(T, B, I, n, O, "cross_entropy", seed=414)
    learner = make_learner(I, n, O, 0.5, rules.DNIb(lr_sg=0.05, lr_j=0.05), "cross_entropy", B, seed=415)
    assert learner.feedback is not None, "DNI(b) uses random feedback W_FB"
    twin = make_learner(I, n, O, 0.5, rules.DNIb(lr_sg=0.05, lr_j=0.05), "cross_entropy", B, seed=415)
    losses, rec = learner.fit(x, y, record=True, chunk_size=30)
    assert torch.equal(losses, twin.fit(x, y)), "recording changes nothing"
    assert set(rec) == {"apical", "target", "prediction", "basal"}
    for v in rec.values():
        assert v.shape == (T, B, n) and torch.isfinite(v).all()
    # U_{t-1}'s prediction and its target U*_{t-1} differ by the apical error the delta rule reduces
    assert not torch.equal(rec["target"], rec["prediction"])
    with pytest.raises(ValueError, match="only rules 'dni' and 'dni_b'"):
        make_learner(I, n, O, 0.5, "rtrl", "cross_entropy", B, seed=416).fit(x, y, record=True)


@pytest.mark.parametrize("name", ["dni", "dni_b"])
def test_dni_has_no_sequence_form(name):
    with pytest.raises(ValueError, match="no sequence form"):
        LocalRNN(2, 3, rule=name)
    p = problem(4, 1, 2, 3, seed=417)
    out, dphi = ops.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 1.0, "tanh")
    with pytest.raises(RuntimeError, match="has no sequence form: its synthetic credit is read out from the labels"):
        ops.leaky_rnn_rule_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi,
                                    1.0, name)
    with pytest.raises(RuntimeError, match="has no sequence form"):
        ops.leaky_rnn(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 1.0, "tanh", name)
