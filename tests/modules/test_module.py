"""LocalRNN as a drop-in for torch.nn.RNN: shapes and layouts, h_n, initialisation
(docs/algorithms.md §1.1), user weights, optimisers, dtype conversion."""
import pytest
import torch

from helpers import DT, TOL, assert_rel, generator, leaves, problem, randn, local_rnn
from torch_local_rnn import LocalRNN, reference as R, rules


def torch_rnn_like(rnn: LocalRNN) -> torch.nn.RNN:
    """nn.RNN with LocalRNN's weights (alpha = 1: the two models are the same)."""
    ref = torch.nn.RNN(rnn.input_size, rnn.hidden_size, nonlinearity=rnn.nonlinearity, batch_first=rnn.batch_first,
                       dtype=rnn.weight_hh_l0.dtype)
    with torch.no_grad():
        ref.weight_hh_l0.copy_(rnn.weight_hh_l0)
        ref.weight_ih_l0.copy_(rnn.weight_ih_l0)
        ref.bias_ih_l0.copy_(rnn.bias_ih_l0)
        ref.bias_hh_l0.zero_()
    return ref


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("form", ["batched", "batched_h0_3d", "batched_h0_2d", "unbatched", "unbatched_h0"])
def test_matches_torch_rnn_at_alpha_one(nonlinearity, batch_first, form):
    T, B, I, n = 9, 3, 4, 5
    p = problem(T, B, I, n, seed=71)
    rnn = local_rnn(I, n, weights=p, alpha=1.0, nonlinearity=nonlinearity, batch_first=batch_first, dtype=DT)
    ref = torch_rnn_like(rnn)
    x = p["x"].transpose(0, 1) if batch_first else p["x"]
    h0 = p["h0"].unsqueeze(0)  # (1, B, n): nn.RNN's layout
    if form == "batched":
        got, want = rnn(x), ref(x)
    elif form == "batched_h0_3d":
        got, want = rnn(x, h0), ref(x, h0)
    elif form == "batched_h0_2d":
        with pytest.raises(RuntimeError, match=r"hx should also be 3-D but got 2-D") as ours:
            rnn(x, p["h0"])
        with pytest.raises(RuntimeError) as theirs:  # nn.RNN refuses a 2-D h0 for batched input too
            ref(x, p["h0"])
        assert str(ours.value) == "LocalRNN: " + str(theirs.value)
        return
    elif form == "unbatched":
        got, want = rnn(p["x"][:, 0]), ref(p["x"][:, 0])
    else:
        got, want = rnn(p["x"][:, 0], h0[:, 0]), ref(p["x"][:, 0], h0[:, 0])
    for g, w, name in zip(got, want, ("output", "h_n")):
        assert g.shape == w.shape, f"{name}: {tuple(g.shape)} != nn.RNN's {tuple(w.shape)}"
        assert_rel(g, w, 1e-12, name)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_h_n_is_last_output(alpha, rule):
    p = problem(T=7, B=3, I=2, n=4, seed=72)
    for batch_first in (False, True):
        rnn = LocalRNN(2, 4, alpha=alpha, rule=rule, batch_first=batch_first, dtype=DT)
        x = p["x"].transpose(0, 1) if batch_first else p["x"]
        out, h_n = rnn(x, p["h0"][None])
        last = out[:, -1] if batch_first else out[-1]
        assert h_n.shape == (1, 3, 4)
        assert torch.equal(h_n[0], last)
        out, h_n = rnn(p["x"][:, 0])
        assert h_n.shape == (1, 4) and torch.equal(h_n[0], out[-1])


def test_alpha_half_matches_reference():
    p = problem(T=12, B=3, I=2, n=4, seed=73)
    for nonlinearity in ("tanh", "relu", "sigmoid"):
        rnn = local_rnn(2, 4, weights=p, alpha=0.5, nonlinearity=nonlinearity, dtype=DT)
        want = R.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 0.5, nonlinearity)
        assert_rel(rnn(p["x"], p["h0"][None])[0], want, 1e-13, nonlinearity)
        assert_rel(rnn(p["x"])[0], R.leaky_rnn_forward(p["x"], None, p["weight_hh"], p["weight_ih"], p["bias"], 0.5,
                                                       nonlinearity), 1e-13, nonlinearity + " no h0")


def test_unbatched_equals_batch_of_one_and_h0_layouts_agree():
    p = problem(T=8, B=3, I=2, n=4, seed=74)
    rnn = LocalRNN(2, 4, alpha=0.7, rule="rflo", dtype=DT)
    out1, h1 = rnn(p["x"][:, 0], p["h0"][:1])
    out2, h2 = rnn(p["x"][:, :1], p["h0"][None, :1])
    assert out1.shape == (8, 4) and h1.shape == (1, 4)
    assert torch.equal(out1, out2[:, 0]) and torch.equal(h1, h2[:, 0])
    c, _ = rnn(p["x"], torch.zeros(1, 3, 4, dtype=DT))
    assert torch.equal(c, rnn(p["x"])[0])


def test_batch_first_gradients_match_time_major():
    p = problem(T=10, B=3, I=2, n=4, seed=75)
    grads = []
    for batch_first in (False, True):
        rnn = local_rnn(2, 4, weights=p, alpha=0.5, batch_first=batch_first, dtype=DT)
        x = leaves(p["x"])[0]
        out, _ = rnn(x.transpose(0, 1) if batch_first else x)
        out = out.transpose(0, 1) if batch_first else out
        grads.append(torch.autograd.grad(out, [x, rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0], p["grad_output"]))
    for a, b in zip(*grads):
        assert_rel(a, b, 1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_default_initialisation(dtype):
    I, n = 50, 200
    rnn = LocalRNN(I, n, generator=generator(76), dtype=dtype)
    for p in rnn.parameters():
        assert p.dtype == dtype and p.requires_grad
    W = rnn.weight_hh_l0.detach().double()
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert (W @ W.T - torch.eye(n, dtype=DT)).abs().max() < tol * 10   # orthogonal
    assert (W.T @ W - torch.eye(n, dtype=DT)).abs().max() < tol * 10
    U = rnn.weight_ih_l0.detach().double()
    assert abs(U.var().item() * I - 1.0) < 0.1                          # N(0, 1/input_size)
    assert abs(U.mean().item()) < 0.01
    assert torch.count_nonzero(rnn.bias_ih_l0) == 0


def test_initialisation_seeded_by_generator():
    a = LocalRNN(3, 6, generator=generator(1))
    b = LocalRNN(3, 6, generator=generator(1))
    c = LocalRNN(3, 6, generator=generator(2))
    assert torch.equal(a.weight_hh_l0, b.weight_hh_l0) and torch.equal(a.weight_ih_l0, b.weight_ih_l0)
    assert not torch.equal(a.weight_hh_l0, c.weight_hh_l0)


def test_orthogonal_eigenvalues_unit_modulus():
    W = LocalRNN(2, 16, generator=generator(3), dtype=DT).weight_hh_l0.detach()
    assert torch.allclose(torch.linalg.eigvals(W).abs(), torch.ones(16, dtype=DT), atol=1e-10)


def test_weights_set_through_the_parameters_are_copies_and_used():
    p = problem(T=6, B=2, I=3, n=4, seed=77)
    W, U, b = (p["weight_hh"].clone(), p["weight_ih"].t().contiguous().t(), p["bias"].clone())
    rnn = local_rnn(3, 4, weights=(W, U, b), alpha=0.5, dtype=DT)
    assert torch.equal(rnn.weight_hh_l0, W) and torch.equal(rnn.weight_ih_l0, U) and torch.equal(rnn.bias_ih_l0, b)
    assert rnn.weight_hh_l0.data_ptr() != W.data_ptr()  # a copy, not an alias
    with torch.no_grad():
        rnn.weight_hh_l0.add_(1.0)
    assert torch.equal(W, p["weight_hh"])             # the caller's tensor is untouched
    with torch.no_grad():
        rnn.weight_hh_l0.sub_(1.0)
    want = R.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 0.5, "tanh")
    assert_rel(rnn(p["x"], p["h0"][None])[0], want, 1e-13)
    # an nn.RNN's (float32) state_dict loads into a float64 LocalRNN: converted, nn.RNN's two biases summed
    ref = torch.nn.RNN(3, 4)
    rnn.load_state_dict(ref.state_dict())
    assert rnn.weight_hh_l0.dtype == DT and torch.equal(rnn.bias_hh_l0, ref.bias_hh_l0.detach().double())


@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_sgd_step(rule):
    p = problem(T=15, B=3, I=2, n=5, seed=78)
    rnn = local_rnn(2, 5, weights=p, alpha=0.5, rule=rule, dtype=DT)
    opt = torch.optim.SGD(rnn.parameters(), lr=0.1)
    out, _ = rnn(p["x"], p["h0"][None])
    (out * p["grad_output"]).sum().backward()
    if rule == "bptt":
        ins = leaves(p["weight_hh"], p["weight_ih"], p["bias"])
        ref = R.leaky_rnn_forward(p["x"], p["h0"], *ins, 0.5, "tanh")
        want = torch.autograd.grad(ref, ins, p["grad_output"])
    else:
        want = R.rflo_sequence_grads(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 0.5, "tanh",
                                     p["grad_output"])[2:]
    opt.step()
    for param, start, g in zip((rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0),
                               (p["weight_hh"], p["weight_ih"], p["bias"]), want):
        assert_rel(param.detach(), start - 0.1 * g, 1e-13)
    assert_rel(rnn.bias_hh_l0.detach(), -0.1 * want[2], 1e-13)  # both biases get b's gradient, as nn.RNN's


@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_adam_steps_and_training_reduces_loss(rule):
    T, B, I, n = 12, 4, 2, 8
    g = generator(79)
    x, target = randn(T, B, I, gen=g), randn(T, B, 1, gen=g, scale=0.5)
    rnn = LocalRNN(I, n, alpha=0.5, rule=rule, generator=g, dtype=DT)
    head = torch.nn.Linear(n, 1, dtype=DT)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-2)
    start = [q.detach().clone() for q in rnn.parameters()]

    def loss_fn():
        return ((head(rnn(x)[0]) - target) ** 2).mean()

    first = loss_fn()
    first.backward()
    grads = [q.grad.clone() for q in rnn.parameters()]
    opt.step()
    for q, s, gr in zip(rnn.parameters(), start, grads):  # Adam's first step: -lr * sign(g) where |g| >> eps
        big = gr.abs() > 1e-5
        assert_rel((q.detach() - s)[big], -1e-2 * gr.sign()[big], 1e-3)
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss_fn().item() < 0.8 * first.item()


def test_double_and_float_conversion():
    p = problem(T=6, B=2, I=3, n=4, seed=80)
    rnn = local_rnn(3, 4, weights=(p["weight_hh"].float(), p["weight_ih"].float(), p["bias"].float()), alpha=0.5, rule="rflo")
    assert rnn.weight_hh_l0.dtype == torch.float32
    rnn = rnn.double()
    assert all(q.dtype == DT for q in rnn.parameters())
    out, h_n = rnn(p["x"], p["h0"][None])
    assert out.dtype == DT and h_n.dtype == DT
    want = R.leaky_rnn_forward(p["x"], p["h0"], *(t.float().double() for t in (p["weight_hh"], p["weight_ih"],
                                                                                p["bias"])), 0.5, "tanh")
    assert_rel(out, want, 1e-13)
    out.sum().backward()
    assert rnn.weight_hh_l0.grad.dtype == DT
    rnn = rnn.float()
    assert rnn(p["x"].float())[0].dtype == torch.float32


def test_rule_configs_and_repr():
    assert LocalRNN(2, 3).rule_name == "bptt"
    r = LocalRNN(2, 3, alpha=0.5, rule="rflo")
    assert r.rule_name == "rflo" and r.rule_options == [0.5]
    r = LocalRNN(2, 3, alpha=0.5, rule=rules.RFLO(trace_alpha=0.3))
    assert r.rule_options == [0.3] and "RFLO(trace_alpha=0.3" in repr(r) and "alpha=0.5" in repr(r)
    assert LocalRNN(2, 3, rule=rules.BPTT()).rule_options == []


def test_no_grad_forward():
    p = problem(T=6, B=2, I=3, n=4, seed=81)
    rnn = local_rnn(3, 4, weights=p, alpha=0.5, rule="rflo", dtype=DT)
    with torch.no_grad():
        out, _ = rnn(p["x"])
    assert not out.requires_grad
    assert_rel(out, R.leaky_rnn_forward(p["x"], None, p["weight_hh"], p["weight_ih"], p["bias"], 0.5, "tanh"), 1e-13)
    with torch.inference_mode():
        out2, _ = rnn(p["x"])
    assert torch.equal(out, out2)
