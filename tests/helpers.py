"""Shared helpers of the test suite (imported by the test modules; fixtures live in conftest.py).

Expected values come from torch_local_rnn.reference (pure PyTorch, per step) or from torch
itself (autograd, nn.RNN), never from the ops under test."""
import math
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository
DT = torch.float64
TOL = 1e-10          # exactness tolerance of float64 comparisons (relative, ||a - b|| / ||b||)
ONLINE_TOL = 1e-9    # the same after hundreds of online SGD steps


def same_package_env() -> dict:
    """os.environ for a fresh Python process that imports the torch_local_rnn these tests imported (its folder
    first on PYTHONPATH), not the checkout's: under scripts/check_cuda_link.sh the tests import a copy of the
    package that holds the CUDA build, while the checkout's holds the CPU library or none. Such a process should
    not run in the checkout either: `python -c` puts its working directory first on sys.path."""
    import torch_local_rnn
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(torch_local_rnn.__file__)))
    return dict(os.environ, PYTHONPATH=os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])]))


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b||; ||a - b|| when b is exactly zero."""
    assert a.shape == b.shape, f"shape {tuple(a.shape)} != {tuple(b.shape)}"
    a, b = a.detach().to(DT), b.detach().to(DT)
    denom = b.norm().item()
    diff = (a - b).norm().item()
    return diff / denom if denom > 0 else diff


def assert_rel(a: torch.Tensor, b: torch.Tensor, tol: float = TOL, what: str = "") -> None:
    assert torch.isfinite(b).all(), f"{what}: reference is not finite"
    err = rel_err(a, b)
    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.1e}"


def assert_all_rel(got, want, names, tol: float = TOL, context: str = "") -> None:
    assert len(got) == len(want) == len(names)
    for g, w, name in zip(got, want, names):
        assert g is not None, f"{context} {name}: no gradient"
        assert_rel(g, w, tol, f"{context} {name}")


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape, gen: torch.Generator, scale: float = 1.0, dtype=DT) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=DT).mul_(scale).to(dtype)


def network(n: int, I: int, seed: int = 0, dtype=DT):
    """(W_hh, W_ih, b): spectral radius ~0.9 recurrent weights, N(0, 1/I) inputs, a non-zero bias."""
    g = generator(seed)
    return (randn(n, n, gen=g, scale=0.9 / math.sqrt(n), dtype=dtype),
            randn(n, I, gen=g, scale=1.0 / math.sqrt(I), dtype=dtype),
            randn(n, gen=g, scale=0.1, dtype=dtype))


def problem(T: int, B: int, I: int, n: int, seed: int = 0, dtype=DT):
    """dict with x (T, B, I), h0 (B, n), weight_hh, weight_ih, bias and a grad_output (T, B, n)."""
    W_hh, W_ih, b = network(n, I, seed, dtype)
    g = generator(seed + 1000)
    return dict(x=randn(T, B, I, gen=g, dtype=dtype), h0=randn(B, n, gen=g, scale=0.5, dtype=dtype),
                weight_hh=W_hh, weight_ih=W_ih, bias=b, grad_output=randn(T, B, n, gen=g, dtype=dtype))


def strided(t: torch.Tensor) -> torch.Tensor:
    """The same values as a non-contiguous view (every stride doubled), detached: call
    .requires_grad_() on it to get a non-contiguous leaf."""
    base = torch.zeros(*t.shape, 2, dtype=t.dtype)
    base[..., 0] = t.detach()
    view = base[..., 0]
    assert not view.is_contiguous() or t.numel() <= 1
    return view


def transposed(t: torch.Tensor) -> torch.Tensor:
    """The same values as a non-contiguous view with the first two dimensions swapped in memory
    (strided() when one of them has size 1, where a transpose would still be contiguous)."""
    if min(t.shape[:2]) <= 1:
        return strided(t)
    view = t.detach().transpose(0, 1).contiguous().transpose(0, 1)
    assert not view.is_contiguous()
    return view


def assert_same_learner(got, want, context: str = "") -> None:
    """Two OnlineLearners (or ensemble members) bitwise equal: every tensor of their state_dicts (weights, state,
    traces, generator state, step counts)."""
    a, b = got.state_dict(), want.state_dict()
    assert a.keys() == b.keys(), context
    for key in a:
        assert torch.equal(a[key], b[key]), f"{context}: {key}"


def leaves(*tensors):
    return [t.detach().clone().requires_grad_(True) for t in tensors]


def one_hot_targets(T: int, B: int, O: int, gen: torch.Generator, dtype=DT) -> torch.Tensor:
    labels = torch.randint(0, O, (T, B), generator=gen)
    return torch.nn.functional.one_hot(labels, O).to(dtype)


def soft_targets(T: int, B: int, O: int, gen: torch.Generator, dtype=DT) -> torch.Tensor:
    return torch.softmax(torch.randn(T, B, O, generator=gen, dtype=DT), dim=-1).to(dtype)


def local_rnn(input_size, hidden_size, weights=None, **kwargs):
    """A LocalRNN (keyword arguments as its constructor's) whose layer-0 weights are set, through its parameters,
    to ``weights`` = (weight_hh, weight_ih, bias) or a dict with those keys (a problem()): the one bias b of
    docs/algorithms.md §1 goes to bias_ih_l0, and bias_hh_l0 = 0."""
    from torch_local_rnn import LocalRNN
    rnn = LocalRNN(input_size, hidden_size, **kwargs)
    if weights is not None:
        if isinstance(weights, dict):
            weights = (weights["weight_hh"], weights["weight_ih"], weights["bias"])
        with torch.no_grad():
            for name, value in zip(("weight_hh_l0", "weight_ih_l0", "bias_ih_l0"), weights):
                getattr(rnn, name).copy_(value)
            rnn.bias_hh_l0.zero_()
    return rnn


def online_weights_problem(T: int, B: int, I: int, n: int, O: int, seed: int):
    """x (T, B, I), soft targets y (T, B, O), hidden (B, n) and the five weights [W_hh, W_ih, b, W_out, b_out] of
    an online op call."""
    W, U, b = network(n, I, seed)
    g = generator(seed + 1)
    y = torch.softmax(randn(T, B, O, gen=g), -1)
    weights = [W, U, b, randn(O, n, gen=g, scale=n ** -0.5), randn(O, gen=g, scale=0.1)]
    return randn(T, B, I, gen=g), y, randn(B, n, gen=g, scale=0.3), weights
