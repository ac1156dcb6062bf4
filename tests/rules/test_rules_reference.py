"""The references of the local rules (reference.rtrl_*, f_bptt_*, e_bptt_*, output_only_*) checked
against each other, autograd and explicit Jacobian products. Nothing here calls the compiled ops."""
import pytest
import torch

from helpers import DT, TOL, assert_rel, generator, problem, randn, soft_targets
from torch_local_rnn import reference as R


def args(p):
    return p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"]


def stacked(grads):
    """[dW_hh | dW_ih | db] (n, m) from a 5-tuple of gradients."""
    return torch.cat([grads[2], grads[3], grads[4][:, None]], dim=1)


def credit_gradient(p, alpha, nonlinearity, credit):
    """G = sum_t sum_b (c_t (.) alpha phi'(h_t)) ahat_t^T for a given credit c (T, B, n)."""
    states, pre = R._pre_activations(*args(p), alpha, nonlinearity)
    prev = torch.cat([p["h0"][None], states[:-1]])
    ones = torch.ones(*prev.shape[:2], 1, dtype=DT)
    ahat = torch.cat([prev, p["x"], ones], dim=2)
    return torch.einsum("tbi,tbj->ij", credit * alpha * R.phi_prime(pre, nonlinearity), ahat)


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid"])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_reference_rtrl_and_long_truncations_are_bptt(alpha, nonlinearity):
    p = problem(T=13, B=3, I=3, n=5, seed=251)
    a = args(p) + (alpha, nonlinearity, p["grad_output"])
    exact = stacked(R.bptt_grads(*a))
    assert_rel(stacked(R.rtrl_sequence_grads(*a)), exact, TOL, "rtrl")
    assert_rel(stacked(R.f_bptt_sequence_grads(*a, 13)), exact, TOL, "f_bptt(T)")
    assert_rel(stacked(R.e_bptt_sequence_grads(*a, 20)), exact, TOL, "e_bptt(T + 7)")
    # BPTT's own input gradients are not the one-step ones (the rules pass on the latter)
    gx, gh0 = R.one_step_input_grads(*a)
    bx, bh0 = R.bptt_grads(*a)[:2]
    assert_rel(gx[-1], bx[-1], TOL, "the last step has no future")
    assert (gh0 - bh0).norm() > 1e-3


@pytest.mark.parametrize("K", [1, 4])
def test_reference_truncations_by_explicit_jacobian_products(K):
    """F-BPTT: c_s = sum_{t=s}^{s+K-1} J_{s+1}^T ... J_t^T g_t; E-BPTT: c_t = g_t + J_{t+1}^T c_{t+1} unless t+1
    starts a window."""
    T, alpha, nl = 13, 0.5, "tanh"
    p = problem(T=T, B=2, I=3, n=5, seed=252)
    g = p["grad_output"]
    _, pre = R._pre_activations(*args(p), alpha, nl)
    d = R.phi_prime(pre, nl)
    J = [R.jacobians(p["weight_hh"], d[t], alpha) for t in range(T)]
    c = torch.zeros_like(g)
    for t in range(T):
        v = g[t]
        for s in range(t, max(-1, t - K), -1):
            c[s] += v
            v = (J[s].transpose(1, 2) @ v[:, :, None])[:, :, 0]
    a = args(p) + (alpha, nl, g)
    assert_rel(stacked(R.f_bptt_sequence_grads(*a, K)), credit_gradient(p, alpha, nl, c), TOL, "f_bptt")
    c = torch.zeros_like(g)
    for t in range(T - 1, -1, -1):
        c[t] = g[t]
        if t + 1 < T and (t + 1) % K:
            c[t] += (J[t + 1].transpose(1, 2) @ c[t + 1][:, :, None])[:, :, 0]
    assert_rel(stacked(R.e_bptt_sequence_grads(*a, K)), credit_gradient(p, alpha, nl, c), TOL, "e_bptt")


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "mse_mean"])
def test_reference_online_lr_zero_is_the_sequence_form(loss):
    T, B, I, n, O, alpha, K = 13, 3, 3, 5, 2, 0.5, 4
    p = problem(T=T, B=B, I=I, n=n, seed=253)
    gen = generator(254)
    W_out, b_out = randn(O, n, gen=gen, scale=n ** -0.5), randn(O, gen=gen, scale=0.1)
    y = randn(T, B, O, gen=gen) if loss != "cross_entropy" else soft_targets(T, B, O, gen)
    states, _ = R._pre_activations(*args(p), alpha, "tanh")
    _, e = R.readout_loss(states @ W_out.T + b_out, y, loss)
    g = e @ W_out
    x, h0, W, U, b = args(p)
    kw = dict(alpha=alpha, loss=loss, lr=0.0)
    on = R.rtrl_online(x, y, h0, torch.zeros(B, n, n * (n + I + 1), dtype=DT), W, U, b, W_out, b_out, **kw)
    assert_rel(on.rec_grad * B, stacked(R.rtrl_sequence_grads(x, h0, W, U, b, alpha, "tanh", g)), TOL, "rtrl")
    assert torch.equal(on.weight_hh, W) and torch.equal(on.weight_out, W_out)
    on = R.e_bptt_online(x, y, h0, W, U, b, W_out, b_out, K, **kw)
    full = (T // K) * K
    want = R.e_bptt_sequence_grads(x[:full], h0, W, U, b, alpha, "tanh", g[:full], K)
    assert_rel(on.rec_grad * B, stacked(want), TOL, "e_bptt")
    assert [s for s, *_ in on.state["history"]] == list(range(full, T))
    # f_bptt: K - 1 more steps on targets with e = 0 release the updates of the last steps
    x_pad = torch.cat([x, randn(K - 1, B, I, gen=gen)])
    s_pad, _ = R._pre_activations(x_pad, h0, W, U, b, alpha, "tanh")
    z = s_pad[T:] @ W_out.T + b_out
    y_pad = torch.cat([y, z if loss != "cross_entropy" else torch.softmax(z, -1)])
    on = R.f_bptt_online(x_pad, y_pad, h0, W, U, b, W_out, b_out, K, **kw)
    assert_rel(on.rec_grad * B, stacked(R.f_bptt_sequence_grads(x, h0, W, U, b, alpha, "tanh", g, K)), TOL, "f_bptt")
    assert [s for s, *_ in on.state["history"]] == list(range(T, T + K - 1))  # the padding steps, K - 1 of them
    on = R.output_only_online(x, y, h0, W, U, b, W_out, b_out, **kw)
    assert torch.count_nonzero(on.rec_grad) == 0


def test_reference_online_rules_do_not_modify_inputs():
    T, B, I, n, O = 9, 2, 3, 4, 2
    p = problem(T=T, B=B, I=I, n=n, seed=255)
    gen = generator(256)
    W_out, b_out = randn(O, n, gen=gen), randn(O, gen=gen)
    y = soft_targets(T, B, O, gen)
    ins = [p["x"], y, p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], W_out, b_out]
    before = [t.clone() for t in ins]
    infl = torch.zeros(B, n, n * (n + I + 1), dtype=DT)
    R.rtrl_online(*ins[:3], infl, *ins[3:], lr=0.1)
    R.f_bptt_online(*ins, 3, lr=0.1)
    R.e_bptt_online(*ins, 3, lr=0.1)
    R.output_only_online(*ins, lr=0.1)
    assert torch.count_nonzero(infl) == 0
    for a, b in zip(ins, before):
        assert torch.equal(a, b)
