"""Forward pass and exact BPTT gradients (ops.leaky_rnn, leaky_rnn_forward, leaky_rnn_bptt_backward,
LocalRNN(rule="bptt")) against autograd through the per-step reference forward, in float64."""
import itertools

import pytest
import torch

from helpers import DT, TOL, assert_all_rel, assert_rel, leaves, problem, strided, transposed, local_rnn
from torch_local_rnn import LocalRNN, ops, reference as R

NAMES = ["x", "h0", "weight_hh", "weight_ih", "bias"]
NONLINEARITIES = ["tanh", "relu", "sigmoid"]


def reference_grads(p, alpha, nonlinearity, with_h0=True):
    x, h0, W, U, b = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    if not with_h0:
        h0 = torch.zeros_like(h0, requires_grad=True)
    out = R.leaky_rnn_forward(x, h0, W, U, b, alpha, nonlinearity)
    return out.detach(), torch.autograd.grad(out, [x, h0, W, U, b], p["grad_output"])


def layouts(p, layout):
    """x, h0, weight_hh, weight_ih, bias as leaves in the requested memory layout."""
    if layout == "contiguous":
        return leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    # non-contiguous leaves: x (T, B, I) stored batch-major, h0 and bias strided,
    # weight_hh transposed in memory, weight_ih strided
    views = [transposed(p["x"]), strided(p["h0"]), transposed(p["weight_hh"]), strided(p["weight_ih"]),
             strided(p["bias"])]
    assert not any(v.is_contiguous() for v in views)
    return [v.requires_grad_(True) for v in views]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
@pytest.mark.parametrize("B", [1, 3])
def test_forward_matches_reference(alpha, nonlinearity, B):
    p = problem(T=20, B=B, I=3, n=6, seed=11)
    args = (p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    want = R.leaky_rnn_forward(*args, alpha, nonlinearity)
    out, dphi = ops.leaky_rnn_forward(*args, alpha, nonlinearity)
    assert_rel(out, want, 1e-13, "output")
    # dphi = phi'(h_t) with h_t recomputed from the reference states
    prev = torch.cat([p["h0"][None], want[:-1]])
    h = prev @ p["weight_hh"].T + p["x"] @ p["weight_ih"].T + p["bias"]
    assert_rel(dphi, R.phi_prime(h, nonlinearity), 1e-12, "dphi")
    for rule in ("bptt", "rflo"):
        assert_rel(ops.leaky_rnn(*args, alpha, nonlinearity, rule), want, 1e-13, rule)


@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
@pytest.mark.parametrize("with_h0", [True, False])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_bptt_op_gradients(alpha, nonlinearity, B, with_h0, layout):
    p = problem(T=50, B=B, I=3, n=6, seed=12)
    want_out, want = reference_grads(p, alpha, nonlinearity, with_h0)
    x, h0, W, U, b = layouts(p, layout)
    if not with_h0:
        h0 = torch.zeros(B, 6, dtype=DT, requires_grad=True)
    out = ops.leaky_rnn(x, h0, W, U, b, alpha, nonlinearity, "bptt")
    assert_rel(out, want_out, 1e-13, "output")
    got = torch.autograd.grad(out, [x, h0, W, U, b], p["grad_output"])
    assert_all_rel(got, want, NAMES, TOL, f"bptt {layout}")


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_bptt_backward_op_directly(alpha, nonlinearity):
    p = problem(T=30, B=3, I=4, n=5, seed=13)
    args = (p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    _, want = reference_grads(p, alpha, nonlinearity)
    out, dphi = ops.leaky_rnn_forward(*args, alpha, nonlinearity)
    got = ops.leaky_rnn_bptt_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi,
                                      alpha)
    assert_all_rel(got, want, NAMES, TOL, "bptt_backward")
    # and with every argument non-contiguous
    got = ops.leaky_rnn_bptt_backward(transposed(p["grad_output"]), transposed(p["x"]), strided(p["h0"]),
                                      transposed(p["weight_hh"]), strided(p["weight_ih"]), transposed(out),
                                      strided(dphi), alpha)
    assert_all_rel(got, want, NAMES, TOL, "bptt_backward noncontiguous")


@pytest.mark.parametrize("T", [1, 2])
def test_bptt_short_sequences(T):
    p = problem(T=T, B=2, I=3, n=4, seed=14)
    _, want = reference_grads(p, 0.5, "tanh")
    x, h0, W, U, b = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    out = ops.leaky_rnn(x, h0, W, U, b, 0.5, "tanh", "bptt")
    assert_all_rel(torch.autograd.grad(out, [x, h0, W, U, b], p["grad_output"]), want, NAMES, TOL, f"T={T}")


def test_bptt_gradient_of_nonlinear_downstream_loss():
    """A loss that uses only some steps (zero grad_output elsewhere) and is nonlinear in them."""
    p = problem(T=25, B=2, I=3, n=5, seed=15)
    readout = torch.randn(5, 2, dtype=DT)

    def loss_of(out):
        return torch.tanh(out[::4] @ readout).pow(2).sum() + out[-1].sum()

    ins = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    want = torch.autograd.grad(loss_of(R.leaky_rnn_forward(*ins, 0.5, "sigmoid")), ins)
    ins = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    got = torch.autograd.grad(loss_of(ops.leaky_rnn(*ins, 0.5, "sigmoid", "bptt")), ins)
    assert_all_rel(got, want, NAMES)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_h0", [True, False])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_local_rnn_bptt_gradients(alpha, nonlinearity, B, with_h0, batch_first):
    T, I, n = 40, 3, 6
    p = problem(T=T, B=B, I=I, n=n, seed=16)
    rnn = local_rnn(I, n, weights=p, alpha=alpha, nonlinearity=nonlinearity, rule="bptt", batch_first=batch_first, dtype=DT)
    g_out = p["grad_output"]
    g_hn = torch.randn(1, B, n, dtype=DT)

    # non-contiguous leaves: x as (B, T, I) for batch_first (a transposed view of time-major
    # memory) or (T, B, I) stored batch-major; h0 strided
    if batch_first:  # (B, T, I) viewing time-major memory
        x = p["x"].clone().transpose(0, 1) if B > 1 else strided(p["x"].transpose(0, 1))
    else:            # (T, B, I) viewing batch-major memory
        x = transposed(p["x"])
    x.requires_grad_(True)
    h0 = strided(p["h0"]).requires_grad_(True)
    assert not x.is_contiguous() and not h0.is_contiguous()
    out, h_n = rnn(x, h0.unsqueeze(0)) if with_h0 else rnn(x)
    seq = out.transpose(0, 1) if batch_first else out
    loss = (seq * g_out).sum() + (h_n * g_hn).sum()
    params = [rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0]
    got = list(torch.autograd.grad(loss, [x] + ([h0] if with_h0 else []) + params))
    if batch_first:
        got[0] = got[0].transpose(0, 1)

    rx, rh0, W, U, b = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    if not with_h0:
        rh0 = torch.zeros(B, n, dtype=DT, requires_grad=True)
    ref = R.leaky_rnn_forward(rx, rh0, W, U, b, alpha, nonlinearity)
    assert_rel(seq, ref, 1e-13, "output")
    assert_rel(h_n[0], ref[-1], 1e-13, "h_n")
    ref_loss = (ref * g_out).sum() + (ref[-1] * g_hn[0]).sum()
    want = torch.autograd.grad(ref_loss, [rx] + ([rh0] if with_h0 else []) + [W, U, b])
    names = ["x"] + (["h0"] if with_h0 else []) + ["weight_hh", "weight_ih", "bias"]
    assert_all_rel(got, want, names, TOL, "LocalRNN bptt")


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_gradcheck_bptt(alpha, nonlinearity):
    p = problem(T=4, B=2, I=2, n=3, seed=17)
    ins = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    if nonlinearity == "relu":  # pre-activations must stay away from the kink for finite differences
        h = p["h0"] @ p["weight_hh"].T + p["x"][0] @ p["weight_ih"].T + p["bias"]
        assert h.abs().min() > 1e-3

    def f(x, h0, W, U, b):
        return ops.leaky_rnn(x, h0, W, U, b, alpha, nonlinearity, "bptt")

    assert torch.autograd.gradcheck(f, ins)


def test_gradcheck_local_rnn_module():
    p = problem(T=5, B=3, I=2, n=4, seed=18)
    rnn = local_rnn(2, 4, weights=p, alpha=0.5, rule="bptt", dtype=DT)

    def f(x, h0, W, U, b):
        out = torch.func.functional_call(rnn, {"weight_hh_l0": W, "weight_ih_l0": U, "bias_ih_l0": b}, (x, h0[None]))
        return out[0], out[1]

    assert torch.autograd.gradcheck(f, leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"]))


def test_gradcheck_fails_for_rflo():
    """RFLO is an estimate, not the gradient: gradcheck must reject it (the check can fail)."""
    p = problem(T=4, B=2, I=2, n=3, seed=19)
    ins = leaves(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])

    def f(x, h0, W, U, b):
        return ops.leaky_rnn(x, h0, W, U, b, 0.5, "tanh", "rflo")

    assert not torch.autograd.gradcheck(f, ins, raise_exception=False)


def test_float32_close_to_float64_reference():
    p = problem(T=30, B=3, I=3, n=8, seed=20)
    _, want = reference_grads(p, 0.5, "tanh")
    ins32 = [t.float().requires_grad_(True) for t in (p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])]
    out = ops.leaky_rnn(*ins32, 0.5, "tanh", "bptt")
    got = torch.autograd.grad(out, ins32, p["grad_output"].float())
    assert_all_rel(got, want, NAMES, 1e-5, "float32")


@pytest.mark.parametrize("op_name", ["bptt", "rflo"])
def test_backward_does_not_read_uninitialised_memory(op_name):
    """Freed memory is poisoned with NaN before every call; the gradients must not change
    (docs/design.md §3.5: never test on zeros, poison before a run)."""
    T, B, I, n = 3, 4, 5, 64
    p = problem(T=T, B=B, I=I, n=n, seed=21)
    args = (p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    out, dphi = ops.leaky_rnn_forward(*args, 0.5, "tanh")

    def run():
        if op_name == "bptt":
            return ops.leaky_rnn_bptt_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"],
                                               out, dphi, 0.5)
        return ops.leaky_rnn_rflo_backward(p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out,
                                           dphi, 0.5, 0.3)

    clean = run()
    assert all(torch.isfinite(t).all() for t in clean)
    for _ in range(5):
        junk = [torch.full((size,), float("nan"), dtype=DT) for size in (B * n, T * B * n, n * n) for _ in range(4)]
        del junk
        got = run()
        for g, c, name in zip(got, clean, NAMES):
            assert torch.isfinite(g).all(), f"{op_name}: grad of {name} has non-finite entries after poisoning"
            assert torch.equal(g, c), f"{op_name}: grad of {name} depends on uninitialised memory"
