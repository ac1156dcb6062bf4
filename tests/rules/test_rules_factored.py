"""UORO, KF-RTRL and R-KF-RTRL (docs/algorithms.md §3.3-3.5), float64: both forms against the independent
per-step references fed the same noise draws; unbiasedness (the mean over noise draws approaches RTRL's
exact estimate, the error shrinking like 1/sqrt(draws)); the rho overrides and legacy_alpha_omission;
seeded reproducibility through OnlineLearner and LocalRNN."""
import math

import pytest
import torch

from helpers import DT, ONLINE_TOL, TOL, assert_rel, generator, problem, randn
from test_rules_online import WEIGHTS, make_learner, online_problem, readout_credit, sequence_gradient
from torch_local_rnn import LocalRNN, ops, reference as R, rules

CONFIGS = {"uoro": rules.UORO, "kf_rtrl": rules.KFRTRL, "rkf_rtrl": rules.RKFRTRL}
NAMES = list(CONFIGS)


def noise_for(name, T, B, n, seed, kind="gaussian"):
    return CONFIGS[name](noise_kind=kind).noise(T, B, n, generator(seed), dtype=DT)[0]


def seq_grads(name, p, alpha, nu, options=None):
    out, dphi = ops.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha, "tanh")
    return ops.leaky_rnn_rule_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi,
                                       alpha, name, [] if options is None else options, [nu])


@pytest.mark.parametrize("alpha", [1.0, 0.6])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("name", NAMES)
def test_sequence_form_matches_reference(name, B, alpha):
    T, I, n = 12, 3, 5
    p = problem(T, B, I, n, seed=301)
    nu = noise_for(name, T, B, n, seed=302)
    got = seq_grads(name, p, alpha, nu)
    want = R.factored_sequence_grads(name, p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha,
                                     "tanh", p["grad_output"], nu)
    for a, b, what in zip(got, want, ["grad_x", "grad_h0", "grad_weight_hh", "grad_weight_ih", "grad_bias"]):
        assert_rel(a, b, TOL, f"{name} B={B} alpha={alpha} {what}")


def run_online(name, cfg, x, y, hidden, weights, state, noise, alpha, loss, lr, feedback=None):
    hidden, weights, state = hidden.clone(), [w.clone() for w in weights], [s.clone() for s in state]
    n, I = weights[0].shape[0], x.shape[2]
    acc = torch.zeros(n, n + I + 1, dtype=DT)
    losses = ops.online_learn(name, x, y, hidden, *weights, state, acc, feedback, alpha, "tanh", loss, lr,
                              cfg.online_options(alpha), [noise])
    return losses, hidden, weights, state, acc


@pytest.mark.parametrize("loss,alpha", [("cross_entropy", 1.0), ("mse", 0.6)])
@pytest.mark.parametrize("B", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_online_form_matches_reference(name, B, loss, alpha):
    """300 steps with per-step SGD of all weights, random N(0, 1) initial factors, discrete noise. lr 0.02: at
    0.05 some of these runs turn chaotic (the factors' noise drives large weight changes) and round-off alone
    separates op and reference."""
    T, I, n, O = 300, 3, 5, 3
    cfg = CONFIGS[name]()
    x, y, hidden, weights = online_problem(T, B, I, n, O, loss, seed=303 + B)
    g = generator(304)
    state = list(cfg.online_state(B, n, I, generator=g, dtype=DT).values())
    noise = cfg.noise(T, B, n, g, dtype=DT)[0]
    fb = randn(O, n, gen=g, scale=O ** -0.5) if B == 2 else None
    losses, h, w, st, acc = run_online(name, cfg, x, y, hidden, weights, state, noise, alpha, loss, 0.02, fb)
    ref = R.factored_online(name, x, y, hidden, state[0], state[1], *weights, noise, feedback=fb, alpha=alpha,
                            loss=loss, lr=0.02)
    ctx = f"{name} B={B} {loss} alpha={alpha}"
    assert_rel(losses, ref.losses, ONLINE_TOL, f"{ctx} losses")
    assert_rel(h, ref.hidden, ONLINE_TOL, f"{ctx} hidden")
    for a, nm in zip(w, WEIGHTS):
        assert_rel(a, getattr(ref, nm), ONLINE_TOL, f"{ctx} {nm}")
    assert_rel(acc, ref.rec_grad, ONLINE_TOL, f"{ctx} rec_grad")
    assert_rel(st[0], ref.state["factor_a"], ONLINE_TOL, f"{ctx} factor_a")
    assert_rel(st[1], ref.state["factor_b"], ONLINE_TOL, f"{ctx} factor_b")
    assert (w[0] - weights[0]).norm() > 1e-4, "the recurrent weights did not learn"


@pytest.mark.parametrize("name", NAMES)
def test_online_with_update_off_equals_sequence_form(name):
    """lr = 0 and factors starting at 0 (the sequence form's start): rec_grad * B is the sequence form's
    estimate with g_t = W_out^T e_t and the same noise."""
    T, B, I, n, O, alpha = 30, 2, 3, 5, 3, 0.7
    cfg = CONFIGS[name]()
    x, y, hidden, weights = online_problem(T, B, I, n, O, "mse", seed=305)
    _, g = readout_credit(x, y, hidden, weights, alpha, "mse")
    noise = noise_for(name, T, B, n, seed=306)
    state = [torch.zeros_like(s) for s in cfg.online_state(B, n, I, dtype=DT).values()]
    *_, w, _, acc = run_online(name, cfg, x, y, hidden, weights, state, noise, alpha, "mse", 0.0)
    for a, b in zip(w, weights):
        assert torch.equal(a, b)
    out, dphi = ops.leaky_rnn_forward(x, hidden, *weights[:3], alpha, "tanh")
    _, _, gW, gU, gb = ops.leaky_rnn_rule_backward(g, x, hidden, weights[0], weights[1], out, dphi, alpha, name,
                                                   cfg.sequence_options(alpha), [noise])
    assert_rel(acc * B, torch.cat([gW, gU, gb[:, None]], 1), ONLINE_TOL, f"{name} online (lr 0) vs sequence")


def _mean_estimate(name, p, alpha, draws, seed, kind):
    """The mean of `draws` independent estimates: one op call on `draws` copies of the same stream (the
    sequence form sums over streams), each copy with its own noise."""
    T, n = p["x"].shape[0], p["weight_hh"].shape[0]
    rep = {k: (v.expand(v.shape[0], draws, *v.shape[2:]).contiguous() if k in ("x", "grad_output")
               else v.expand(draws, *v.shape[1:]).contiguous() if k == "h0" else v) for k, v in p.items()}
    nu = noise_for(name, T, draws, n, seed, kind)
    _, _, gW, gU, gb = seq_grads(name, rep, alpha, nu)
    return torch.cat([gW, gU, gb[:, None]], 1) / draws


@pytest.mark.slow  # 6 x 5,456 noise draws per case
@pytest.mark.parametrize("kind", ["discrete", "gaussian"])
@pytest.mark.parametrize("name", NAMES)
def test_unbiased_error_shrinks_like_one_over_sqrt_draws(name, kind):
    """E_nu[estimate] = RTRL's exact gradient (= BPTT with frozen weights): the mean over N draws has a
    squared error tr(Cov) / N. Over N = 16 .. 4096 the fitted slope of log error vs log N is -1/2 (a
    biased estimator flattens out at its bias: slope -> 0)."""
    T, B, I, n, alpha = 8, 1, 2, 4, 0.8
    p = problem(T, B, I, n, seed=307)
    out, dphi = ops.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha, "tanh")
    _, _, eW, eU, eb = ops.leaky_rnn_bptt_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"],
                                                   p["weight_ih"], out, dphi, alpha)
    exact = torch.cat([eW, eU, eb[:, None]], 1)
    sizes, errors = [16, 64, 256, 1024, 4096], []
    for N in sizes:
        sq = [(_mean_estimate(name, p, alpha, N, 1000 * N + r, kind) - exact).pow(2).sum().item() for r in range(6)]
        errors.append(math.sqrt(sum(sq) / len(sq)))
    xs, ys = [math.log(N) for N in sizes], [math.log(e) for e in errors]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)
    assert -0.65 < slope < -0.35, f"{name} {kind}: error {errors} slope {slope}"
    assert errors[-1] / exact.norm().item() < 0.5, f"{name}: mean of 4096 draws still far from the exact gradient"


@pytest.mark.parametrize("name", NAMES)
def test_online_influence_mean_approaches_rtrl(name):
    """Online form, lr = 0, random N(0, 1) initial factors (mean 0 = RTRL's M_0): B identical streams, each
    with its own factors and noise, average to RTRL's estimate as B grows."""
    T, I, n, O, alpha = 10, 2, 4, 2, 1.0
    x1, y1, h1, weights = online_problem(T, 1, I, n, O, "mse", seed=308)
    rtrl_state = [torch.zeros(1, n, n * (n + I + 1), dtype=DT)]
    acc_rtrl = torch.zeros(n, n + I + 1, dtype=DT)
    ops.online_learn("rtrl", x1, y1, h1.clone(), *[w.clone() for w in weights], rtrl_state, acc_rtrl, None, alpha,
                     "tanh", "mse", 0.0, [])
    cfg = CONFIGS[name]()
    errs = []
    for B in (64, 4096):
        x, y, h = x1.expand(T, B, I).contiguous(), y1.expand(T, B, O).contiguous(), h1.expand(B, n).contiguous()
        g = generator(309 + B)
        state = list(cfg.online_state(B, n, I, generator=g, dtype=DT).values())
        acc = torch.zeros(n, n + I + 1, dtype=DT)
        ops.online_learn(name, x, y, h, *[w.clone() for w in weights], state, acc, None, alpha, "tanh", "mse", 0.0,
                         cfg.online_options(alpha), cfg.noise(T, B, n, g, dtype=DT))
        errs.append((acc - acc_rtrl).norm().item() / acc_rtrl.norm().item())
    assert errs[1] < errs[0] / 3, f"{name}: error {errs} does not shrink with the number of draws"
    assert errs[1] < 0.5, f"{name}: {errs}"


@pytest.mark.parametrize("name", NAMES)
def test_fixed_rho_matches_reference_and_legacy_alpha_is_linear(name):
    """rho0 / rho1 overrides (the code's P0 / P1) against the reference; with fixed rhos the estimate is linear in
    the immediate influence, so legacy_alpha_omission (no alpha in Mbar, §2.6) gives exactly 1/alpha times it."""
    T, B, I, n, alpha = 10, 2, 3, 4, 0.5
    p = problem(T, B, I, n, seed=310)
    nu = noise_for(name, T, B, n, seed=311)
    cfg = CONFIGS[name](rho0=0.7, rho1=1.3)
    got = seq_grads(name, p, alpha, nu, cfg.sequence_options(alpha))
    want = R.factored_sequence_grads(name, p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha,
                                     "tanh", p["grad_output"], nu, rho0=0.7, rho1=1.3)
    assert_rel(got[2], want[2], TOL, f"{name} fixed rho")
    legacy = CONFIGS[name](rho0=0.7, rho1=1.3, legacy_alpha_omission=True)
    got_legacy = seq_grads(name, p, alpha, nu, legacy.sequence_options(alpha))
    assert_rel(got_legacy[2], got[2] / alpha, TOL, f"{name} legacy alpha omission")
    assert not torch.allclose(got_legacy[2], got[2])


@pytest.mark.parametrize("name,cfg", [("rtrl", rules.RTRL), ("f_bptt", rules.FBPTT), ("e_bptt", rules.EBPTT)])
def test_legacy_alpha_omission_of_the_deterministic_rules(name, cfg):
    """Without alpha in Mbar (RTRL) or in the gradient factor (F-/E-BPTT) the estimate is 1/alpha times the
    alpha-corrected one; at alpha = 1 the switch changes nothing."""
    T, B, I, n = 9, 2, 3, 4
    p = problem(T, B, I, n, seed=312)
    for alpha in (0.4, 1.0):
        out, dphi = ops.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha, "tanh")
        args = (p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi, alpha, name)
        plain = ops.leaky_rnn_rule_backward(*args, cfg().sequence_options(alpha))
        legacy = ops.leaky_rnn_rule_backward(*args, cfg(legacy_alpha_omission=True).sequence_options(alpha))
        for a, b in zip(legacy[2:], plain[2:]):
            assert_rel(a, b / alpha, TOL, f"{name} alpha={alpha}")
    # and online: the same scaling of the first update
    x, y, hidden, weights = online_problem(5, 1, I, n, 2, "mse", seed=313)
    accs = []
    for legacy in (False, True):
        c = cfg(legacy_alpha_omission=legacy)
        acc = torch.zeros(n, n + I + 1, dtype=DT)
        ops.online_learn(name, x, y, hidden.clone(), *[w.clone() for w in weights],
                         list(c.online_state(1, n, I, dtype=DT).values()), acc, None, 0.4, "tanh", "mse", 0.0,
                         c.online_options(0.4), [])
        accs.append(acc)
    assert_rel(accs[1], accs[0] / 0.4, TOL, f"{name} online legacy")


def test_uoro_forward_difference_approaches_the_exact_product():
    """epsilon > 0 takes J A as (F(a + eps A) - a_t) / eps and adds eps to the rescaling: as eps -> 0 the run
    approaches the exact variant."""
    T, B, I, n, O = 40, 1, 3, 5, 2
    x, y, hidden, weights = online_problem(T, B, I, n, O, "mse", seed=314)
    g = generator(315)
    state = list(rules.UORO().online_state(B, n, I, generator=g, dtype=DT).values())
    noise = rules.UORO().noise(T, B, n, g, dtype=DT)[0]
    exact = run_online("uoro", rules.UORO(), x, y, hidden, weights, state, noise, 0.8, "mse", 0.05)
    errs = []
    for eps in (1e-3, 1e-6):
        fd = run_online("uoro", rules.UORO(epsilon=eps), x, y, hidden, weights, state, noise, 0.8, "mse", 0.05)
        errs.append((fd[4] - exact[4]).norm().item() / exact[4].norm().item())
    assert errs[1] < 1e-4 and errs[1] < errs[0], errs


def test_sequence_form_rejects_the_forward_difference_variant():
    p = problem(4, 1, 2, 3, seed=316)
    with pytest.raises(RuntimeError, match="forward-difference"):
        seq_grads("uoro", p, 1.0, noise_for("uoro", 4, 1, 3, 317), rules.UORO(epsilon=1e-3).sequence_options(1.0))


# ----------------------------------------------------------------------------- the modules
@pytest.mark.parametrize("name", NAMES)
def test_online_learner_is_seeded_and_resumable(name):
    T, B, I, n, O = 60, 2, 3, 4, 3
    x, y, _, _ = online_problem(T, B, I, n, O, "cross_entropy", seed=318)
    runs = [make_learner(I, n, O, 0.8, name, "cross_entropy", B, seed=s).fit(x, y) for s in (319, 319, 320)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


@pytest.mark.parametrize("name", NAMES)
def test_local_rnn_sequence_form_in_a_model(name):
    """LocalRNN(rule=...) draws fresh noise every call inside the op, from its counter (buffers noise_seed and
    noise_offset; docs/algorithms.md §2.5): same seed, same gradients; the gradient is the sequence form's with the
    noise ops.noise_from_counter gives for the module's seed and offset."""
    T, B, I, n = 7, 3, 2, 4
    x = randn(T, B, I, gen=generator(321))
    grads = []
    for _ in range(2):
        rnn = LocalRNN(I, n, alpha=0.9, rule=name, dtype=DT, generator=generator(322))
        out, _ = rnn(x)
        out.pow(2).sum().backward()
        grads.append(rnn.weight_hh_l0.grad.clone())
        assert int(rnn.noise_offset) == T * B * rnn.noise_width, "the counter did not advance by the call's draws"
    assert torch.equal(grads[0], grads[1])
    rnn2 = LocalRNN(I, n, alpha=0.9, rule=name, dtype=DT, generator=generator(322))
    nu = ops.noise_from_counter(rnn2.noise_kind, int(rnn2.noise_seed), 0, [T, B, rnn2.noise_width], DT)
    out, dphi = ops.leaky_rnn_forward(x, torch.zeros(B, n, dtype=DT), rnn2.weight_hh_l0.detach(),
                                      rnn2.weight_ih_l0.detach(), rnn2.bias_ih_l0.detach(), 0.9, "tanh")
    _, _, gW, _, _ = ops.leaky_rnn_rule_backward(2 * out, x, torch.zeros(B, n, dtype=DT), rnn2.weight_hh_l0.detach(),
                                                 rnn2.weight_ih_l0.detach(), out, dphi, 0.9, name,
                                                 rnn2.rule_options, [nu])
    assert_rel(grads[0], gW, TOL, f"{name} LocalRNN vs op")
