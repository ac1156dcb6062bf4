"""Regression guards of the module layer (LocalRNN, OnlineLearner) for the faults an adversarial pass found:

* a state_dict of another rule (or other options) is refused, naming both, before anything is loaded;
* a fit that fails (inside the op) leaves the learner bit-identical (rng_state, sg_label_prev, ...);
* threads sharing a stochastic module draw atomically (the generator state / noise offset ends where sequential
  calls end it);
* clear errors: a non-tensor x, non-numeric lr / l2, a non-integer batch_size, a corrupt rng_state at load time;
* LocalRNN's sizes are ints, as torch.nn.RNN's (no silent int(2.5)).
"""
import io
import sys
import threading
import warnings

import pytest
import torch
from torch import nn

from helpers import DT, generator, randn, soft_targets
from property_helpers import assert_same_state, state_snapshot as snapshot
from torch_local_rnn import LocalRNN, OnlineLearner, rules

I, N, O, B = 3, 4, 2, 2
ONLINE = {"output_only": rules.OutputOnly(), "rtrl": rules.RTRL(), "f_bptt": rules.FBPTT(truncation=3),
          "e_bptt": rules.EBPTT(window=3), "rflo": rules.RFLO(trace_alpha=0.3), "eprop": rules.EProp(),
          "uoro": rules.UORO(), "kf_rtrl": rules.KFRTRL(), "rkf_rtrl": rules.RKFRTRL(),
          "kernl": rules.KeRNL(sigma=0.01, reset_interval=4), "dni": rules.DNI(), "dni_b": rules.DNIb()}


def learner(rule, seed=0, batch_size=B, dtype=DT, **kw):
    g = generator(seed)
    rnn = LocalRNN(I, N, alpha=0.5, dtype=dtype, generator=g)
    readout = nn.Linear(N, O, dtype=dtype)
    with torch.no_grad():
        readout.weight.copy_(randn(O, N, gen=g, scale=N ** -0.5))
        readout.bias.copy_(randn(O, gen=g, scale=0.1))
    kw.setdefault("lr", 0.05)
    return OnlineLearner(rnn, readout, loss="cross_entropy", rule=rule, batch_size=batch_size, generator=g, **kw)


def data(T=6, seed=1, batch=B):
    g = generator(seed)
    return randn(T, batch, I, gen=g), soft_targets(T, batch, O, g)




# ----------------------------------------------------------------------------- E: the state of another rule
@pytest.mark.parametrize("saved,target,pattern", [
    ("uoro", "rkf_rtrl", r"rule 'uoro' .*but this learner runs rule 'rkf_rtrl'"),
    (rules.FBPTT(truncation=20), rules.EBPTT(window=20),
     r"rule 'f_bptt' \(truncation=20\), but this learner runs rule 'e_bptt' \(window=20\)"),
    (rules.DNI(feedback="random"), rules.DNIb(), r"rule 'dni' .*but this learner runs rule 'dni_b'"),
    (rules.DNIb(), rules.DNI(feedback="random"), r"rule 'dni_b' .*but this learner runs rule 'dni'"),
    (rules.RFLO(trace_alpha=0.3), rules.RFLO(trace_alpha=0.5),
     r"rule 'rflo' \(trace_alpha=0.3\), but this learner runs rule 'rflo' \(trace_alpha=0.5\)"),
    (rules.UORO(legacy_alpha_omission=True), rules.UORO(),
     r"legacy_alpha_omission=1\), but .*legacy_alpha_omission=0"),
    (rules.KeRNL(sigma=1e-3), rules.KeRNL(sigma=1e-2),
     r"sigma=0.001.*but this learner runs rule 'kernl' \(sigma=0.01"),
    (rules.DNI(fix_interval=3), rules.DNI(fix_interval=4), r"fix_interval=3.*fix_interval=4"),
], ids=["uoro->rkf_rtrl", "f_bptt->e_bptt", "dni->dni_b", "dni_b->dni", "rflo options", "uoro options",
        "kernl options", "dni options"])
def test_learner_refuses_the_state_of_another_rule(saved, target, pattern):
    source = learner(saved, seed=1)
    source.fit(*data())
    state = source.state_dict()
    dest = learner(target, seed=2)
    before = snapshot(dest)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"OnlineLearner.load_state_dict: the state_dict is the state of .*"
                                               + pattern):
            dest.load_state_dict(state, strict=strict)
        assert_same_state(dest, before, "a refused load_state_dict")


@pytest.mark.parametrize("name", list(ONLINE))
def test_learner_loads_its_own_checkpoint(name):
    """Saved with torch.save, loaded with torch.load(weights_only=True) into a learner built from another seed."""
    source = learner(ONLINE[name], seed=1)
    source.fit(*data())
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    dest = learner(ONLINE[name], seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "unchecked" warning: the identity is there
        dest.load_state_dict(torch.load(buffer, weights_only=True))
    for k, v in source.state_dict().items():
        assert torch.equal(dest.state_dict()[k], v), k
    x, y = data(seed=3)
    assert torch.equal(dest.fit(x, y), source.fit(x, y))


def test_learner_state_without_identity_loads_with_a_warning():
    """A state_dict saved before learners recorded their rule cannot be checked: it loads, with a warning."""
    source = learner("uoro", seed=1)
    state = source.state_dict()
    del state["rule_identity"]
    dest = learner("uoro", seed=2)
    with pytest.warns(UserWarning, match=r"no rule_identity entry .* rule 'uoro' unchecked"):
        dest.load_state_dict(state)
    assert torch.equal(dest.rng_state, source.rng_state)


def test_learner_refuses_a_corrupt_identity():
    state = learner("rtrl").state_dict()
    state["rule_identity"] = torch.zeros(3, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match=r"rule_identity is not a rule identity"):
        learner("rtrl").load_state_dict(state)


def test_stochastic_local_rnn_refuses_the_state_of_another_rule():
    source = LocalRNN(I, N, rule="uoro", dtype=DT, generator=generator(1))
    dest = LocalRNN(I, N, rule="rkf_rtrl", dtype=DT, generator=generator(2))
    before = snapshot(dest)
    with pytest.raises(RuntimeError, match=r"LocalRNN.load_state_dict: the state_dict's noise_seed, noise_offset "
                                           r"belong to rule 'uoro' .*but this module runs rule 'rkf_rtrl'"):
        dest.load_state_dict(source.state_dict())
    assert_same_state(dest, before, "a refused load_state_dict")
    kernl = LocalRNN(I, N, rule="kernl", dtype=DT)
    assert "rule_identity" in kernl.state_dict()
    LocalRNN(I, N, rule=rules.KeRNL(lr=1.0), dtype=DT).load_state_dict(kernl.state_dict())  # its rule: loads
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*noise_seed"):
        LocalRNN(I, N, rule="uoro", dtype=DT).load_state_dict(kernl.state_dict())
    # the weights alone move between rules: deterministic modules keep the plain nn.RNN-like state_dict
    plain = LocalRNN(I, N, rule="bptt", dtype=DT, generator=generator(3))
    assert set(plain.state_dict()) == set(nn.RNN(I, N).state_dict())  # nn.RNN's keys
    LocalRNN(I, N, rule="rflo", dtype=DT).load_state_dict(plain.state_dict())
    weights = {k: v for k, v in source.state_dict().items() if "weight" in k or "bias" in k}
    dest.load_state_dict(weights, strict=False)
    assert torch.equal(dest.weight_hh_l0, source.weight_hh_l0)
    # its own state loads (and a scripted module's state_dict, which has no identity entry)
    twin = LocalRNN(I, N, rule="uoro", dtype=DT, generator=generator(4))
    twin.load_state_dict(source.state_dict())
    assert torch.equal(twin.noise_seed, source.noise_seed) and torch.equal(twin.noise_offset, source.noise_offset)


# ----------------------------------------------------------------------------- F: a failed fit changes nothing
def corrupt(learner_, how):
    """Something the op rejects, set up without touching the learner's state_dict values."""
    if how == "readout dtype":
        learner_.readout.float()  # float32 readout, float64 network: "expected weight_out to have the dtype of x"
    else:  # a state buffer of the wrong shape (a hand-edited or foreign buffer)
        name = learner_._state_names[0]
        buf = getattr(learner_, name)
        setattr(learner_, name, buf[..., :-1].clone() if buf.dim() > 1 else torch.zeros(buf.numel() + 1, dtype=DT))


# Every online rule with each way to fail; output_only carries no rule state to corrupt.
FAILURES = [(name, how) for name in ONLINE for how in ("readout dtype", "state shape")
            if how == "readout dtype" or ONLINE[name].online_state(1, 1, 1)]


@pytest.mark.parametrize("first", [True, False], ids=["first fit", "later fit"])
@pytest.mark.parametrize("name,how", FAILURES)
def test_failed_fit_leaves_the_learner_unchanged(name, first, how):
    L = learner(ONLINE[name], seed=5)
    if not first:
        L.fit(*data(seed=6))
    corrupt(L, how)
    before = snapshot(L)
    with pytest.raises(RuntimeError, match=r"online_learn: "):
        L.fit(*data(seed=7), chunk_size=4)
    assert_same_state(L, before, f"a failed fit ({how})")


@pytest.mark.parametrize("name", ["uoro", "kernl", "dni_b"])
def test_failed_fit_then_fixed_fit_equals_a_clean_run(name):
    """After the failure is fixed, the run continues as if the failed call never happened."""
    x, y = data(T=9, seed=8)
    clean = learner(ONLINE[name], seed=9)
    want = clean.fit(x, y)
    L = learner(ONLINE[name], seed=9)
    weight = L.readout.weight.data
    L.readout.weight.data = weight.float()
    with pytest.raises(RuntimeError, match="weight_out"):
        L.fit(x, y)
    L.readout.weight.data = weight
    assert torch.equal(L.fit(x, y), want)


def test_failed_local_rnn_forward_changes_nothing():
    """Refused before the noise is reserved (nn.RNN's checks, and hx's dtype and device against the input's): the
    weights, the buffers and noise_offset all stay as they were."""
    rnn = LocalRNN(I, N, rule="uoro", dtype=DT, generator=generator(10))
    before = snapshot(rnn)
    for bad, h0 in ((torch.randn(5, B, I, dtype=torch.float32), None), (torch.randn(5, B, I + 1, dtype=DT), None),
                    (torch.randn(5, B, I, dtype=DT), torch.zeros(1, B, N, dtype=torch.float32))):
        with pytest.raises((RuntimeError, ValueError)):
            rnn(bad, h0)
        assert_same_state(rnn, before, "a failed forward")
    assert int(rnn.noise_offset) == 0


# ----------------------------------------------------------------------------- G: threads share a module
@pytest.fixture
def switch_often():
    """Thread switches every microsecond: a read-draw-write that is not atomic loses draws at once."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_threads(work, threads=4):
    errors = []

    def guarded():
        try:
            work()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    pool = [threading.Thread(target=guarded) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("rule", ["uoro", "kf_rtrl"])
def test_threads_sharing_a_local_rnn_draw_atomically(rule, switch_often):
    """4 threads x 50 forwards end with the noise offset of 200 sequential forwards (each reserved its own)."""
    shared = LocalRNN(I, N, rule=rule, dtype=DT, generator=generator(11))
    alone = LocalRNN(I, N, rule=rule, dtype=DT, generator=generator(11))
    x = torch.randn(20, 8, I, dtype=DT)

    def work():
        for _ in range(50):
            shared(x)

    run_threads(work)
    for _ in range(200):
        alone(x)
    assert torch.equal(shared.noise_offset, alone.noise_offset), "draws were lost to a race"


def test_threads_sharing_a_learner_draw_atomically(switch_often):
    """OnlineLearner's generator (reset_state re-draws the factors) under 4 threads."""
    def make():
        g = generator(12)
        return OnlineLearner(LocalRNN(I, 16, dtype=DT, generator=g), nn.Linear(16, O, dtype=DT), rule="uoro",
                             batch_size=8, generator=g)

    shared, alone = make(), make()

    def work():
        for _ in range(50):
            shared.reset_state()

    run_threads(work)
    for _ in range(200):
        alone.reset_state()
    assert torch.equal(shared.rng_state, alone.rng_state), "draws were lost to a race"


# ----------------------------------------------------------------------------- H: clear errors
@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_non_tensor_data_is_named(method):
    L = learner("rflo")
    x, y = data()
    with pytest.raises(TypeError, match=rf"OnlineLearner.{method}: expected x to be a floating-point tensor, but got "
                                        r"list"):
        getattr(L, method)(x.tolist(), y)
    with pytest.raises(TypeError, match=rf"OnlineLearner.{method}: expected y to be a floating-point tensor, but got "
                                        r"NoneType"):
        getattr(L, method)(x, None)


@pytest.mark.parametrize("kwargs,exc,pattern", [
    (dict(lr="0.1"), TypeError, r"OnlineLearner: expected lr to be a finite number >= 0, but got str '0.1'"),
    (dict(lr=None), TypeError, r"OnlineLearner: expected lr to be a finite number >= 0, but got NoneType None"),
    (dict(lr=True), TypeError, r"expected lr to be a finite number >= 0, but got bool True"),
    (dict(l2="x"), TypeError, r"OnlineLearner: expected l2 to be a finite number >= 0, but got str 'x'"),
    (dict(l2=None), TypeError, r"expected l2 to be a finite number >= 0, but got NoneType"),
    (dict(batch_size=2.5), TypeError, r"OnlineLearner: expected batch_size to be a positive integer, but got float "
                                      r"2.5"),
    (dict(batch_size="2"), TypeError, r"expected batch_size to be a positive integer, but got str '2'"),
    (dict(batch_size=True), TypeError, r"expected batch_size to be a positive integer, but got bool True"),
    (dict(batch_size=-1), ValueError, r"expected batch_size > 0, but got -1"),
])
def test_learner_argument_types_are_named(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        learner("rflo", **kwargs)


def test_learner_accepts_numeric_types():
    import numpy as np
    L = learner("rflo", lr=np.float64(0.05), l2=torch.tensor(0.01), batch_size=np.int64(2))
    assert L.lr == 0.05 and L.l2 == pytest.approx(0.01) and L.batch_size == 2
    assert isinstance(L.lr, float) and isinstance(L.l2, float)


@pytest.mark.parametrize("corruption,pattern", [
    (lambda s: torch.zeros_like(s), r"rng_state is not a valid state of a CPU torch.Generator: Invalid mt19937 state"),
    (lambda s: s[:-1].clone(), r"rng_state is not a valid state of a CPU torch.Generator: .*size"),
    (lambda s: s.float(), r"expected rng_state to be the state of a CPU torch.Generator \(a 1-D uint8 tensor"),
    (lambda s: s[None].clone(), r"expected rng_state to be the state of a CPU torch.Generator .*2-D"),
])
def test_corrupt_rng_state_is_refused_at_load(corruption, pattern):
    legacy = torch.Generator().manual_seed(5).get_state()  # LocalRNN's rng_state before its noise moved into the op
    for make, who in ((lambda seed: learner("uoro", seed=seed), "OnlineLearner"),
                      (lambda seed: LocalRNN(I, N, rule="uoro", dtype=DT, generator=generator(seed)), "LocalRNN")):
        state = make(1).state_dict()
        if who == "LocalRNN":
            del state["noise_seed"], state["noise_offset"]
        state["rng_state"] = corruption(state["rng_state"] if "rng_state" in state else legacy)
        dest = make(2)
        before = snapshot(dest)
        with pytest.raises(RuntimeError, match=rf"{who}.load_state_dict: {pattern}"):
            dest.load_state_dict(state)
        assert_same_state(dest, before, "a refused load_state_dict")
    # the network's generator inside a learner's state is checked too, before the learner's own buffers load
    L = OnlineLearner(LocalRNN(I, N, rule="uoro", dtype=DT), nn.Linear(N, O, dtype=DT))
    state = L.state_dict()
    state["rnn.rng_state"] = torch.zeros_like(legacy)
    state["hidden"] = state["hidden"] + 1
    before = snapshot(L)
    with pytest.raises(RuntimeError, match=r"LocalRNN.load_state_dict: rng_state is not a valid state"):
        L.load_state_dict(state)
    assert_same_state(L, before, "a refused load_state_dict")


# ----------------------------------------------------------------------------- I: sizes are ints
@pytest.mark.parametrize("args,pattern", [
    ((3, 2.5), r"LocalRNN: hidden_size should be of type int, got: float"),
    ((3.0, 2), r"LocalRNN: input_size should be of type int, got: float"),
    ((3, True), r"LocalRNN: hidden_size should be of type int, got: bool"),
    ((False, 2), r"LocalRNN: input_size should be of type int, got: bool"),
    (("3", 2), r"LocalRNN: input_size should be of type int, got: str"),
    ((3, None), r"LocalRNN: hidden_size should be of type int, got: NoneType"),
])
def test_local_rnn_sizes_must_be_ints(args, pattern):
    with pytest.raises(TypeError, match=pattern):
        LocalRNN(*args)
    with pytest.raises(TypeError, match=r"hidden_size should be of type int, got: float"):
        nn.RNN(3, 2.5)  # the behaviour LocalRNN follows
    with pytest.raises(ValueError, match=r"expected input_size and hidden_size > 0"):
        LocalRNN(3, 0)


@pytest.mark.parametrize("alpha", ["0.5", None, True])
def test_local_rnn_alpha_must_be_a_number(alpha):
    with pytest.raises(TypeError, match=rf"LocalRNN: expected alpha to be a number in \(0, 1\], but got "
                                        rf"{type(alpha).__name__}"):
        LocalRNN(3, 2, alpha=alpha)


# ----------------------------------------------------------------------------- torch.func
@pytest.mark.parametrize("transform", ["grad", "vmap"])
def test_torch_func_transforms_fail_with_one_clear_message(transform):
    """torch.func cannot transform the rule's C++ autograd function: the op says so, with the way out, instead of
    functorch's own message (which names neither); plain autograd on the same call keeps working."""
    rnn = LocalRNN(3, 4, dtype=DT, rule="rflo")
    g = generator(7)
    x = randn(5, 2, 3, gen=g)
    params = dict(rnn.named_parameters())
    with pytest.raises(RuntimeError, match=r"leaky_rnn: torch.func transforms .* are not supported.*torch.autograd"):
        if transform == "grad":
            torch.func.grad(lambda p: torch.func.functional_call(rnn, p, (x,))[0].sum())(params)
        else:
            torch.func.vmap(lambda xx: rnn(xx)[0])(randn(2, 5, 3, gen=g))
    rnn(x)[0].sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in rnn.parameters())
