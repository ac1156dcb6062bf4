"""The counter-based noise of the stochastic rules (docs/algorithms.md §2.5, csrc/common/philox.h): the op's draws
against an independent Python Philox4x32-10 (itself checked on Random123's known answers), their independence of
how a sequence is cut into calls, and the noise counter [seed, offset, kind] in place of nu: the same gradients as
the explicit nu it stands for, and as the Python references driven by ops.noise_from_counter."""
import math

import pytest
import torch

from helpers import DT, TOL, assert_rel, problem
from torch_local_rnn import ops, reference as R

NAMES = ["uoro", "kf_rtrl", "rkf_rtrl"]
KINDS = ["discrete", "gaussian", "uniform"]
WIDTH = {"uoro": lambda n: n, "kf_rtrl": lambda n: 2, "rkf_rtrl": lambda n: n}

# ----------------------------------------------------------------------------- an independent Philox4x32-10
MASK = 0xFFFFFFFF


def philox4x32_10(counter, key):
    """Salmon et al. (2011), Random123's philox4x32_R(10, ...), in Python integers."""
    c, (k0, k1) = list(counter), key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & MASK, (p0 >> 32) ^ c[3] ^ k1, p0 & MASK]
        k0, k1 = (k0 + 0x9E3779B9) & MASK, (k1 + 0xBB67AE85) & MASK
    return c


def python_draw(kind, seed, i):
    """The layout of docs/algorithms.md §2.5: key = seed's halves, counter = (i's halves, 0, 0)."""
    w = philox4x32_10([i & MASK, (i >> 32) & MASK, 0, 0], [seed & MASK, seed >> 32])
    u = [((w[1] << 32 | w[0]) >> 11) * 2.0 ** -53, ((w[3] << 32 | w[2]) >> 11) * 2.0 ** -53]
    if kind == "discrete":
        return 1.0 if w[0] >> 31 else -1.0
    if kind == "uniform":
        return 2.0 * u[0] - 1.0
    return math.sqrt(-2.0 * math.log1p(-u[0])) * math.cos(2.0 * math.pi * u[1])


@pytest.mark.parametrize("counter,key,want", [  # Random123's tests/kat_vectors, the "philox4x32 10" lines
    ([0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
    ([MASK] * 4, [MASK] * 2, [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]),
    ([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0],
     [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1])])
def test_python_philox_known_answers(counter, key, want):
    assert philox4x32_10(counter, key) == want


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed,offset", [(0, 0), (12345, 7), (2 ** 62 - 1, 2 ** 40 + 3)])
def test_op_draws_are_philox(kind, seed, offset):
    got = ops.noise_from_counter(kind, seed, offset, [3, 2, 5])
    want = torch.tensor([python_draw(kind, seed, offset + i) for i in range(30)], dtype=DT).reshape(3, 2, 5)
    assert torch.equal(got, want) if kind != "gaussian" else (got - want).abs().max() <= 4e-16 * want.abs().max()
    assert torch.equal(ops.noise_from_counter(kind, seed, offset, [30], torch.float32), want.reshape(-1).float())


@pytest.mark.parametrize("kind", KINDS)
def test_draws_do_not_depend_on_the_chunking(kind):
    """A (T, B, width) call at offset o, then one at o + T B width: the draws of one (T + T', B, width) call."""
    B, width = 3, 4
    whole = ops.noise_from_counter(kind, 99, 10, [9, B, width])
    first = ops.noise_from_counter(kind, 99, 10, [4, B, width])
    rest = ops.noise_from_counter(kind, 99, 10 + 4 * B * width, [5, B, width])
    assert torch.equal(torch.cat([first, rest]), whole)


def test_kinds_have_their_moments():
    """E[nu nu^T] = I for discrete and gaussian, 1/3 I for uniform (docs/algorithms.md §2.5)."""
    for kind, second in (("discrete", 1.0), ("gaussian", 1.0), ("uniform", 1.0 / 3.0)):
        nu = ops.noise_from_counter(kind, 5, 0, [200000])
        assert abs(float(nu.mean())) < 0.015 and abs(float(nu.pow(2).mean()) - second) < 0.015, kind
    assert set(ops.noise_from_counter("discrete", 5, 0, [1000]).tolist()) == {-1.0, 1.0}


# ----------------------------------------------------------------------------- the counter in place of nu
def sequence_args(p, alpha):
    out, dphi = ops.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha, "tanh")
    return (p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi, alpha)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NAMES)
def test_counter_gives_the_gradients_of_its_draws(name, kind):
    """The op with the counter equals the op with the explicit nu it stands for (bitwise) and the Python reference
    driven by ops.noise_from_counter (an independent computation)."""
    T, B, I, n, alpha, seed, offset = 8, 3, 2, 5, 0.7, 2 ** 33 + 5, 1000
    p = problem(T, B, I, n, seed=401)
    nu = ops.noise_from_counter(kind, seed, offset, [T, B, WIDTH[name](n)], DT)
    args = sequence_args(p, alpha)
    got = ops.leaky_rnn_rule_backward(*args, name, [], [ops.noise_counter(kind, seed, offset)])
    explicit = ops.leaky_rnn_rule_backward(*args, name, [], [nu])
    want = R.factored_sequence_grads(name, p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], alpha,
                                     "tanh", p["grad_output"], nu)
    for a, b, c, what in zip(got, explicit, want, ["grad_x", "grad_h0", "grad_weight_hh", "grad_weight_ih",
                                                   "grad_bias"]):
        assert torch.equal(a, b), what
        assert_rel(a, c, TOL, f"{name} {kind} {what}")


@pytest.mark.parametrize("name", NAMES)
def test_online_form_takes_the_counter_too(name):
    T, B, I, n, O = 6, 2, 3, 4, 2
    p = problem(T, B, I, n, seed=402)
    g = torch.Generator().manual_seed(403)
    y = torch.softmax(torch.randn(T, B, O, generator=g, dtype=DT), -1)
    w_out, b_out = torch.randn(O, n, generator=g, dtype=DT), torch.randn(O, generator=g, dtype=DT)
    shapes = ops.rule_state_shapes(name, [], 0.8, B, n, I, O)
    state = [torch.randn(s, generator=g, dtype=DT) for s in shapes.values()]
    results = []
    for noise in (ops.noise_counter("gaussian", 7, 3), ops.noise_from_counter("gaussian", 7, 3,
                                                                                [T, B, WIDTH[name](n)], DT)):
        net = [p["h0"].clone(), p["weight_hh"].clone(), p["weight_ih"].clone(), p["bias"].clone(), w_out.clone(),
               b_out.clone()]
        mine = [s.clone() for s in state]
        losses = ops.online_learn(name, p["x"], y, *net, mine, None, None, 0.8, "tanh", "cross_entropy", 0.05, [],
                                  [noise])
        results.append([losses] + net + mine)
    for a, b in zip(*results):
        assert torch.equal(a, b)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call,pattern", [
    (lambda: ops.noise_from_counter("cauchy", 0, 0, [2]), r"noise_from_counter: expected kind to be one of "
                                                          r"'discrete', 'gaussian', 'uniform', but got 'cauchy'"),
    (lambda: ops.noise_from_counter("uniform", -1, 0, [2]), r"noise_from_counter: expected seed >= 0, but got -1"),
    (lambda: ops.noise_from_counter("uniform", 0, -2, [2]), r"noise_from_counter: expected offset >= 0, but got -2"),
    (lambda: ops.noise_from_counter("uniform", 0, 0, [2], torch.int32), r"expected out to be float32 or float64"),
    (lambda: ops.noise_counter("normal", 0, 0), r"noise_counter: expected kind to be one of"),
    (lambda: ops.noise_reserve(torch.tensor(1), torch.tensor(0.0), 4, "gaussian"),
     r"noise_reserve: expected offset to be an int64 tensor of one element, but got a Float tensor of shape \(\)"),
    (lambda: ops.noise_reserve(torch.tensor(1), torch.tensor(0), -4, "gaussian"),
     r"noise_reserve: expected count >= 0, but got -4"),
    (lambda: ops.noise_reserve(torch.tensor(1), torch.tensor(0), 4, "gauss"), r"noise_reserve: expected kind"),
])
def test_bad_noise_arguments_are_named(call, pattern):
    with pytest.raises(RuntimeError, match=pattern):
        call()


@pytest.mark.parametrize("counter,pattern", [
    (torch.tensor([1, 2], dtype=torch.int64), r"rule_tensors\[0\] \(uoro noise nu\) as a noise counter to be a 1-D "
                                              r"int64 tensor \[seed, offset, kind\], but got shape \(2,\)"),
    (torch.tensor([1, 2, 3], dtype=torch.int64), r"the kind of rule_tensors\[0\] \(uoro noise nu\) to be 0 "
                                                 r"\(discrete\), 1 \(gaussian\) or 2 \(uniform\), but got 3"),
    (torch.tensor([-1, 2, 0], dtype=torch.int64), r"the seed and offset of rule_tensors\[0\] .* >= 0, but got -1"),
])
def test_bad_counters_are_named(counter, pattern):
    p = problem(4, 2, 2, 3, seed=404)
    with pytest.raises(RuntimeError, match=rf"leaky_rnn_rule_backward: expected {pattern}"):
        ops.leaky_rnn_rule_backward(*sequence_args(p, 1.0), "uoro", [], [counter])


def test_reserve_fake_matches_the_kernel():
    seed, offset = torch.tensor(3), torch.tensor(10)
    with torch._subclasses.fake_tensor.FakeTensorMode() as mode:
        fake = ops.noise_reserve(mode.from_tensor(seed), mode.from_tensor(offset), 6, "uniform")
    assert fake.shape == (3,) and fake.dtype == torch.int64
    assert ops.noise_reserve(seed, offset, 6, "uniform").tolist() == [3, 10, 2] and int(offset) == 16


@pytest.mark.parametrize("test_util", ["test_schema", "test_autograd_registration", "test_faketensor",
                                       "test_aot_dispatch_dynamic"])
def test_opcheck_noise_ops(test_util):
    # mutating ops: fresh arguments for every check
    torch.library.opcheck(torch.ops.torch_local_rnn.noise_reserve.default,
                          (torch.tensor(5), torch.tensor(8), 12, "gaussian"), test_utils=test_util)
    torch.library.opcheck(torch.ops.torch_local_rnn.noise_from_counter.default,
                          (torch.empty(3, 4, dtype=DT), "uniform", 5, 8), test_utils=test_util)


@pytest.mark.parametrize("name", NAMES)
def test_opcheck_leaky_rnn_with_a_counter(name):
    p = problem(4, 2, 3, 4, seed=405)
    args = [p[k].clone().requires_grad_(True) for k in ("x", "h0", "weight_hh", "weight_ih", "bias")]
    torch.library.opcheck(torch.ops.torch_local_rnn.leaky_rnn.default,
                          (*args, 0.5, "tanh", name, [], [ops.noise_counter("discrete", 3, 0)]))
