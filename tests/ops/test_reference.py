"""The reference (torch_local_rnn.reference) is itself checked against torch: nn.RNN, autograd
and closed forms. Nothing here calls the compiled ops."""
import pytest
import torch

from helpers import DT, TOL, assert_rel, generator, leaves, problem, randn, soft_targets
from torch_local_rnn import losses, reference as R


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_forward_alpha_one_is_torch_rnn(nonlinearity):
    p = problem(T=7, B=3, I=3, n=5, seed=1)
    rnn = torch.nn.RNN(3, 5, nonlinearity=nonlinearity, dtype=DT)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(p["weight_hh"])
        rnn.weight_ih_l0.copy_(p["weight_ih"])
        rnn.bias_ih_l0.copy_(p["bias"])
        rnn.bias_hh_l0.zero_()
    want, _ = rnn(p["x"], p["h0"].unsqueeze(0))
    got = R.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 1.0, nonlinearity)
    assert_rel(got, want, 1e-12)


def test_forward_leak_closed_form():
    """With W_hh = 0, W_ih = 0 and bias b: a_t = (1-alpha)^t a_0 + (1 - (1-alpha)^t) tanh(b)."""
    n, alpha = 4, 0.3
    g = generator(2)
    h0, b = randn(2, n, gen=g), randn(n, gen=g)
    x = randn(6, 2, 3, gen=g)
    got = R.leaky_rnn_forward(x, h0, torch.zeros(n, n, dtype=DT), torch.zeros(n, 3, dtype=DT), b, alpha, "tanh")
    for t in range(6):
        decay = (1 - alpha) ** (t + 1)
        assert_rel(got[t], decay * h0 + (1 - decay) * torch.tanh(b).expand(2, n), 1e-14)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid"])
def test_phi_prime_is_autograd(nonlinearity):
    h = torch.linspace(-3, 3, 101, dtype=DT).add(0.013).requires_grad_(True)
    (want,) = torch.autograd.grad(R.phi(h, nonlinearity).sum(), h)
    assert_rel(R.phi_prime(h.detach(), nonlinearity), want, 1e-14)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_rflo_trace_one_is_one_step_truncation(alpha):
    """With trace_alpha = 1 the trace is phi'(h_t) ahat_t^T: the weight gradient equals autograd
    through each step alone (a_{t-1} fully detached), scaled by 1/alpha."""
    p = problem(T=6, B=2, I=3, n=4, seed=3)
    W_hh, W_ih, b = leaves(p["weight_hh"], p["weight_ih"], p["bias"])
    a, total = p["h0"], 0.0
    for t in range(6):
        h = a @ W_hh.T + p["x"][t] @ W_ih.T + b
        a_new = (1 - alpha) * a + alpha * torch.tanh(h)
        total = total + (a_new * p["grad_output"][t]).sum()
        a = a_new.detach()
    want = torch.autograd.grad(total, [W_hh, W_ih, b])
    got = R.rflo_sequence_grads(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha, "tanh",
                                p["grad_output"], trace_alpha=1.0)
    for g_, w_ in zip(got[2:], want):
        assert_rel(g_ * alpha, w_, 1e-13)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "mse_mean"])
def test_readout_loss_and_error(loss):
    g = generator(4)
    z = randn(5, 4, gen=g, scale=2.0).requires_grad_(True)
    y = soft_targets(1, 5, 4, g)[0]
    value, e = R.readout_loss(z, y, loss)
    if loss == "cross_entropy":
        want = -(y * torch.log_softmax(z, -1)).sum(-1)          # no probability is below the 1e-4 floor here
        assert torch.softmax(z, -1).min() > 1e-4
        (grad,) = torch.autograd.grad(want.sum(), z)              # softmax - y since sum_k y_k = 1
    elif loss == "mse":
        want = ((z - y) ** 2).mean(-1) / 2
        (grad,) = torch.autograd.grad(((z - y) ** 2).sum() / 2, z)  # e: the gradient of 1/2 sum (docs/algorithms.md §1)
    else:
        want = ((z - y) ** 2).mean(-1) / 2
        (grad,) = torch.autograd.grad(want.sum(), z)  # e is the gradient of the reported loss itself
    assert_rel(value, want, 1e-14)
    assert_rel(e, grad, 1e-14)
    assert_rel(losses.per_step_loss(z, y, loss), value, 1e-14)


def test_cross_entropy_floor():
    z = torch.tensor([[0.0, -30.0]], dtype=DT)
    y = torch.tensor([[0.0, 1.0]], dtype=DT)
    value, e = R.readout_loss(z, y, "cross_entropy")
    assert value.item() == pytest.approx(-torch.log(torch.tensor(1e-4, dtype=DT)).item(), rel=1e-14)
    assert_rel(e, torch.softmax(z, -1) - y, 1e-14)                 # the floor is in the value only


def test_online_reference_lr_zero_is_forward_plus_readout():
    T, B, I, n, O = 9, 2, 3, 4, 3
    p = problem(T, B, I, n, seed=5)
    g = generator(6)
    W_out, b_out, y = randn(O, n, gen=g), randn(O, gen=g), soft_targets(T, B, O, g)
    trace = torch.zeros(B, n, n + I + 1, dtype=DT)
    res = R.rflo_online(p["x"], y, p["h0"], trace, p["weight_hh"], p["weight_ih"], p["bias"], W_out, b_out,
                        alpha=0.5, loss="cross_entropy", lr=0.0)
    a = R.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 0.5, "tanh")
    assert_rel(res.losses, -(y * torch.log_softmax(a @ W_out.T + b_out, -1)).sum(-1), 1e-13)
    assert_rel(res.hidden, a[-1], 1e-14)
    assert torch.equal(res.weight_hh, p["weight_hh"]) and torch.equal(res.weight_out, W_out)


def test_online_reference_one_step_by_hand():
    """One step, B = 2, MSE, symmetric feedback, written out with explicit index loops."""
    B, I, n, O, alpha, k, lr = 2, 2, 3, 2, 0.5, 0.25, 0.1
    g = generator(7)
    x, y = randn(1, B, I, gen=g), randn(1, B, O, gen=g)
    a0, tr0 = randn(B, n, gen=g), randn(B, n, n + I + 1, gen=g)
    W, U, b, V, c = randn(n, n, gen=g), randn(n, I, gen=g), randn(n, gen=g), randn(O, n, gen=g), randn(O, gen=g)
    res = R.rflo_online(x, y, a0, tr0, W, U, b, V, c, alpha=alpha, trace_alpha=k, loss="mse", lr=lr)
    Wn, Un, bn, Vn, cn = W.clone(), U.clone(), b.clone(), V.clone(), c.clone()
    for s in range(B):
        ahat = list(a0[s]) + list(x[0, s]) + [1.0]
        h = [sum(W[i, j] * a0[s, j] for j in range(n)) + sum(U[i, j] * x[0, s, j] for j in range(I)) + b[i]
             for i in range(n)]
        a1 = [(1 - alpha) * a0[s, i] + alpha * torch.tanh(h[i]) for i in range(n)]
        z = [sum(V[o, i] * a1[i] for i in range(n)) + c[o] for o in range(O)]
        e = [z[o] - y[0, s, o] for o in range(O)]
        assert res.losses[0, s].item() == pytest.approx(sum(v * v for v in e).item() / (2 * O), rel=1e-13)
        q = [sum(V[o, i] * e[o] for o in range(O)) for i in range(n)]
        for i in range(n):
            for j in range(n + I + 1):
                trace = (1 - k) * tr0[s, i, j] + k * (1 - torch.tanh(h[i]) ** 2) * ahat[j]
                assert res.trace[s, i, j].item() == pytest.approx(trace.item(), rel=1e-13, abs=1e-15)
                step = lr / B * q[i] * trace
                if j < n:
                    Wn[i, j] -= step
                elif j < n + I:
                    Un[i, j - n] -= step
                else:
                    bn[i] -= step
        for o in range(O):
            cn[o] -= lr / B * e[o]
            for i in range(n):
                Vn[o, i] -= lr / B * e[o] * a1[i]
    for got, want in zip(res[3:], (Wn, Un, bn, Vn, cn)):
        assert_rel(got, want, 1e-13)


def test_reference_does_not_modify_inputs():
    T, B, I, n, O = 4, 2, 3, 4, 3
    p = problem(T, B, I, n, seed=8)
    g = generator(9)
    args = [p["x"], soft_targets(T, B, O, g), p["h0"], randn(B, n, n + I + 1, gen=g), p["weight_hh"],
            p["weight_ih"], p["bias"], randn(O, n, gen=g), randn(O, gen=g)]
    before = [a.clone() for a in args]
    R.rflo_online(*args, lr=0.5)
    R.rflo_sequence_grads(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 0.5, "tanh", p["grad_output"])
    assert all(torch.equal(a, b) for a, b in zip(args, before))
