"""Property-based tests of the modules (hypothesis): LocalRNN for every rule with a sequence form, OnlineLearner for
every rule with an online form, on random small problems (float64).

* valid: LocalRNN's outputs and gradients equal the reference (the stochastic rules with the noise its counter
  draws, ops.noise_from_counter at its noise_seed and noise_offset, and noise_offset advanced by exactly that draw); OnlineLearner.fit equals the reference loop from the
  learner's own state, in any chunking;
* invalid (constructor arguments, data, a corrupted buffer or readout): an exception naming the argument, and the
  module's state_dict bit-identical afterwards.

Fast tier: a few derandomized examples per test (tests/property_helpers.py); the ``*_slow`` twins draw many more.
"""
import math

import pytest
import torch
from hypothesis import strategies as st
from torch import nn

from helpers import DT
from property_helpers import (assert_close, assert_same_state, online_reference, sequence_reference,
                              state_snapshot as snapshot, tiers)
from torch_local_rnn import LocalRNN, OnlineLearner, ops, reference as R, rules

SEQUENCE_RULES = ["bptt", "rflo", "eprop", "output_only", "rtrl", "f_bptt", "e_bptt", "uoro", "kf_rtrl", "rkf_rtrl",
                  "kernl"]
ONLINE_RULES = ["output_only", "rtrl", "f_bptt", "e_bptt", "rflo", "eprop", "uoro", "kf_rtrl", "rkf_rtrl", "kernl",
                "dni", "dni_b"]




def config(name, data):
    """A rule config with drawn options."""
    if name == "rflo":
        return rules.RFLO(trace_alpha=data.draw(st.sampled_from([None, 0.3]), "trace_alpha"))
    if name == "f_bptt":
        return rules.FBPTT(truncation=data.draw(st.integers(1, 4), "truncation"))
    if name == "e_bptt":
        return rules.EBPTT(window=data.draw(st.integers(1, 4), "window"))
    if name in ("uoro", "kf_rtrl", "rkf_rtrl"):
        cls = {"uoro": rules.UORO, "kf_rtrl": rules.KFRTRL, "rkf_rtrl": rules.RKFRTRL}[name]
        return cls(noise_kind=data.draw(st.sampled_from(["discrete", "gaussian", "uniform"]), "noise_kind"))
    if name == "kernl":
        return rules.KeRNL(sigma=data.draw(st.sampled_from([1e-3, 0.05]), "sigma"), lr=0.3,
                           reset_interval=data.draw(st.sampled_from([None, 2, 3]), "reset_interval"))
    if name in ("dni", "dni_b"):
        cls = rules.DNI if name == "dni" else rules.DNIb
        return cls(lr_sg=0.05, lr_j=0.05, fix_interval=data.draw(st.integers(1, 3), "fix_interval"))
    return rules.resolve(name)


def sizes(data):
    return (data.draw(st.integers(1, 5), "T"), data.draw(st.integers(1, 3), "B"), data.draw(st.integers(1, 3), "I"),
            data.draw(st.integers(1, 4), "n"), data.draw(st.integers(1, 3), "O"))


# ----------------------------------------------------------------------------- LocalRNN
@pytest.mark.parametrize("name", SEQUENCE_RULES)
def _local_rnn_matches_reference(name, data):
    T, B, I, n, _ = sizes(data)
    alpha = data.draw(st.sampled_from([1.0, 0.4]), "alpha")
    nl = data.draw(st.sampled_from(["tanh", "relu", "sigmoid"]), "nonlinearity")
    layout = data.draw(st.sampled_from(["batched", "batch_first", "unbatched"]), "layout")
    seed = data.draw(st.integers(0, 2 ** 16), "seed")
    cfg = config(name, data)
    g = torch.Generator().manual_seed(seed)
    rnn = LocalRNN(I, n, alpha=alpha, nonlinearity=nl, rule=cfg, batch_first=layout == "batch_first", generator=g,
                   dtype=DT)
    if layout == "unbatched":
        B = 1
    x = torch.randn(T, B, I, generator=g, dtype=DT)
    h0 = 0.5 * torch.randn(B, n, generator=g, dtype=DT) if data.draw(st.booleans(), "h0") else None
    grad = torch.randn(T, B, n, generator=g, dtype=DT)
    # the noise this forward will draw: its counter's draws (docs/algorithms.md §2.5)
    tensors, advanced = [], None
    if rnn.stochastic:
        width, offset = cfg.noise_width(n), int(rnn.noise_offset)
        tensors = [ops.noise_from_counter(cfg.noise_kind, int(rnn.noise_seed), offset, [T, B, width], DT)]
        advanced = offset + T * B * width
    if name == "kernl":
        tensors = [rnn.kernl_mixing, rnn.kernl_rates]
    xin = {"batched": x, "batch_first": x.transpose(0, 1), "unbatched": x[:, 0]}[layout].clone().requires_grad_(True)
    hin = None if h0 is None else (h0 if layout == "unbatched" else h0[None])  # nn.RNN's (layers, [B,] n)
    out, h_n = rnn(xin, hin)
    states = out[:, None] if layout == "unbatched" else (out.transpose(0, 1) if layout == "batch_first" else out)
    net = dict(x=x, h0=torch.zeros(B, n, dtype=DT) if h0 is None else h0, weight_hh=rnn.weight_hh_l0.detach(),
               weight_ih=rnn.weight_ih_l0.detach(), bias=rnn.bias_ih_l0.detach(), grad_output=grad)
    assert_close(states.detach(), R.leaky_rnn_forward(net["x"], net["h0"], net["weight_hh"], net["weight_ih"],
                                                      net["bias"], alpha, nl), f"{name} output")
    assert torch.equal(h_n.reshape(-1), states[-1].detach().reshape(-1))
    if advanced is not None:
        assert int(rnn.noise_offset) == advanced, "noise_offset did not advance by exactly this call's draw"
    states.backward(grad)
    want = sequence_reference(cfg, net, alpha, nl, tensors)
    for got, w, what in ((rnn.weight_hh_l0.grad, want[2], "grad_weight_hh"), (rnn.weight_ih_l0.grad, want[3], "weight_ih"),
                         (rnn.bias_ih_l0.grad, want[4], "bias")):
        assert_close(got, w, f"{name} {what}")
    gx = xin.grad[:, None] if layout == "unbatched" else (xin.grad.transpose(0, 1) if layout == "batch_first"
                                                          else xin.grad)
    assert_close(gx, want[0], f"{name} grad_x")


test_local_rnn_matches_reference, test_local_rnn_matches_reference_slow = tiers(fast=3, slow=60)(
    _local_rnn_matches_reference)


def _local_rnn_invalid_forward_changes_nothing(data):
    name = data.draw(st.sampled_from(SEQUENCE_RULES), "rule")
    I, n = data.draw(st.integers(1, 3), "I"), data.draw(st.integers(1, 4), "n")
    rnn = LocalRNN(I, n, rule=name, dtype=DT, generator=torch.Generator().manual_seed(1))
    before = snapshot(rnn)
    case = data.draw(st.sampled_from(["x float32", "x int", "x features", "x rank", "h0 size", "h0 layers",
                                      "h0 dtype"]), "case")
    x, h0 = torch.randn(4, 2, I, dtype=DT), None
    if case == "x float32":
        x, pattern = x.float(), r"input dtype"
    elif case == "x int":
        x, pattern = x.long(), r"input dtype"
    elif case == "x features":
        x, pattern = torch.randn(4, 2, I + 1, dtype=DT), r"input_size"
    elif case == "x rank":
        x, pattern = torch.randn(4, 2, I, 1, dtype=DT), r"Expected input to be 2D or 3D"
    elif case == "h0 size":
        h0, pattern = torch.zeros(1, 2, n + 1, dtype=DT), r"Expected hidden size"
    elif case == "h0 layers":
        h0, pattern = torch.zeros(2, 2, n, dtype=DT), r"Expected hidden size \(1, 2, %d\), got \[2, 2, %d\]" % (n, n)
    else:
        h0, pattern = torch.zeros(1, 2, n), r"h0"
    with pytest.raises((RuntimeError, ValueError), match=pattern):
        rnn(x, h0)
    assert_same_state(rnn, before, f"a failed forward ({case})")


test_local_rnn_invalid_forward_changes_nothing, test_local_rnn_invalid_forward_changes_nothing_slow = tiers(
    fast=15, slow=400)(_local_rnn_invalid_forward_changes_nothing)


BAD_CONSTRUCTOR = [
    (dict(input_size=2.5), TypeError, "input_size"), (dict(hidden_size=True), TypeError, "hidden_size"),
    (dict(hidden_size="4"), TypeError, "hidden_size"), (dict(input_size=0), ValueError, "input_size"),
    (dict(hidden_size=-3), ValueError, "hidden_size"), (dict(alpha=0.0), ValueError, "alpha"),
    (dict(alpha=1.5), ValueError, "alpha"), (dict(alpha=float("nan")), ValueError, "alpha"),
    (dict(nonlinearity="gelu"), ValueError, "nonlinearity"), (dict(rule="nope"), ValueError, "rule"),
    (dict(rule="dni"), ValueError, "no sequence form"), (dict(rule=3), TypeError, "rule"),
    (dict(rule=rules.FBPTT(truncation=2 ** 63)), ValueError, "truncation"),
    (dict(num_layers=0.5), TypeError, "num_layers"), (dict(num_layers=0), ValueError, "num_layers"),
    (dict(bias="yes"), TypeError, "bias"), (dict(dropout=1.5), ValueError, "dropout"), (dict(init="xavier"), ValueError, "init"),
]


def _local_rnn_constructor_errors_name_the_argument(data):
    change, exc, pattern = data.draw(st.sampled_from(BAD_CONSTRUCTOR), "case")
    kw = dict(input_size=2, hidden_size=4)
    kw.update(change)
    with pytest.raises(exc, match=pattern):
        LocalRNN(kw.pop("input_size"), kw.pop("hidden_size"), **kw)


test_local_rnn_constructor_errors, test_local_rnn_constructor_errors_slow = tiers(fast=15, slow=100)(
    _local_rnn_constructor_errors_name_the_argument)


# ----------------------------------------------------------------------------- OnlineLearner
def make_learner(name, data, B, I, n, O):
    cfg = config(name, data)
    alpha = data.draw(st.sampled_from([1.0, 0.5]), "alpha")
    loss = data.draw(st.sampled_from(["cross_entropy", "mse", "mse_mean"]), "loss")
    lr = data.draw(st.sampled_from([0.0, 0.05, 0.2]), "lr")
    l2 = data.draw(st.sampled_from([0.0, 0.01]), "l2")
    initial = data.draw(st.sampled_from(["zeros", "random"]), "initial_state")
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 2 ** 16), "seed"))
    rnn = LocalRNN(I, n, alpha=alpha, dtype=DT, generator=g)
    readout = nn.Linear(n, O, dtype=DT)
    with torch.no_grad():
        readout.weight.copy_(torch.randn(O, n, generator=g, dtype=DT) / math.sqrt(n))
        readout.bias.copy_(0.1 * torch.randn(O, generator=g, dtype=DT))
    learner = OnlineLearner(rnn, readout, loss=loss, lr=lr, rule=cfg, batch_size=B, generator=g,
                            initial_state=initial, l2=l2)
    return learner, cfg


def stream(data, T, B, I, O, loss):
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 2 ** 16), "data_seed"))
    x = torch.randn(T, B, I, generator=g, dtype=DT)
    y = (torch.softmax(torch.randn(T, B, O, generator=g, dtype=DT), -1) if loss == "cross_entropy"
         else torch.randn(T, B, O, generator=g, dtype=DT))
    return x, y


def _learner_matches_reference(name, data):
    """fit from the learner's own state (the noise its generator will draw, y_prev := y_0 for DNI) equals the
    reference loop, with the stream fitted in two calls (the first ``split`` steps, then the rest), each in chunks."""
    T, B, I, n, O = sizes(data)
    learner, cfg = make_learner(name, data, B, I, n, O)
    x, y = stream(data, T, B, I, O, learner.loss)
    state = [t.clone() for t in learner.rule_state().values()]
    if name.startswith("dni"):
        state[4] = y[0].clone()  # y_prev := y_0 before the first step
    noise = []
    if cfg.stochastic:
        copy = torch.Generator().set_state(learner.rng_state.clone())
        noise = cfg.noise(T, B, n, copy, dtype=DT)
    params = dict(weight_hh=learner.rnn.weight_hh_l0, weight_ih=learner.rnn.weight_ih_l0, bias=learner.rnn.bias_ih_l0,
                  weight_out=learner.readout.weight, bias_out=learner.readout.bias)
    a = dict(x=x, y=y, hidden=learner.hidden.clone(), state=state, feedback=learner.feedback, alpha=learner.rnn.alpha,
             nonlinearity=learner.rnn.nonlinearity, loss=learner.loss, lr=learner.lr, l2=learner.l2,
             rule_tensors=noise, **{k: v.detach().clone() for k, v in params.items()})
    ref = online_reference(cfg, a)
    chunk = data.draw(st.integers(1, T), "chunk_size")
    split = data.draw(st.integers(1, T), "split")
    parts = [learner.fit(x[:split], y[:split], chunk_size=chunk)]
    if split < T:
        parts.append(learner.fit(x[split:], y[split:], chunk_size=chunk))
    assert_close(torch.cat(parts), ref.losses, f"{name} losses")
    assert_close(learner.hidden, ref.hidden, f"{name} hidden")
    for k, v in params.items():
        assert_close(v.detach(), getattr(ref, k), f"{name} {k}")
    assert int(learner.steps_done) == T


test_learner_matches_reference, test_learner_matches_reference_slow = tiers(fast=3, slow=50)(
    pytest.mark.parametrize("name", ONLINE_RULES)(_learner_matches_reference))


def _learner_invalid_fit_changes_nothing(data):
    """A fit that fails, before or inside the op, leaves the state_dict bit-identical, whatever ran before."""
    name = data.draw(st.sampled_from(ONLINE_RULES), "rule")
    T, B, I, n, O = sizes(data)
    learner, cfg = make_learner(name, data, B, I, n, O)
    x, y = stream(data, T, B, I, O, learner.loss)
    if data.draw(st.booleans(), "trained"):
        learner.fit(x, y)
    case = data.draw(st.sampled_from(["x list", "x int", "x features", "y outputs", "streams", "T = 0",
                                      "chunk_size", "readout dtype", "state shape", "state dtype", "hidden shape",
                                      "record"]), "case")
    xs, ys, kw = x, y, {}
    if case == "x list":
        xs, pattern = x.tolist(), r"expected x to be a floating-point tensor, but got list"
    elif case == "x int":
        xs, pattern = x.long(), r"expected x to be a floating-point tensor"
    elif case == "x features":
        xs, pattern = torch.randn(T, B, I + 1, dtype=DT), r"input_size"
    elif case == "y outputs":
        ys, pattern = torch.randn(T, B, O + 1, dtype=DT), r"output_size"
    elif case == "streams":
        xs, ys, pattern = torch.cat([x, x], 1), torch.cat([y, y], 1), r"batch_size"
    elif case == "T = 0":
        xs, ys, pattern = x[:0], y[:0], r"non-empty"
    elif case == "chunk_size":
        kw, pattern = dict(chunk_size=data.draw(st.sampled_from([0, -2, 1.5]), "chunk")), r"chunk_size"
    elif case == "record":
        if name in ("dni", "dni_b"):
            return  # they record
        kw, pattern = dict(record=True), r"record"
    elif case == "readout dtype":
        learner.readout.weight.data = learner.readout.weight.data.float()
        pattern = r"weight_out"
    elif case == "hidden shape":
        learner.hidden = torch.zeros(B, n + 1, dtype=DT)
        pattern = r"hidden"
    else:
        if not learner._state_names:
            return
        k = data.draw(st.integers(0, len(learner._state_names) - 1), "k")
        buf = getattr(learner, learner._state_names[k])
        bad = buf.float() if case == "state dtype" else torch.zeros(*buf.shape[:-1], buf.shape[-1] + 1, dtype=DT)
        setattr(learner, learner._state_names[k], bad)
        pattern = rf"state\[{k}\]"
    before = snapshot(learner)
    with pytest.raises((RuntimeError, ValueError, TypeError), match=pattern):
        learner.fit(xs, ys, **kw)
    assert_same_state(learner, before, f"a failed fit ({case})")


test_learner_invalid_fit_changes_nothing, test_learner_invalid_fit_changes_nothing_slow = tiers(
    fast=30, slow=800)(_learner_invalid_fit_changes_nothing)


BAD_LEARNER = [
    (dict(lr="0.1"), TypeError, "lr"), (dict(lr=None), TypeError, "lr"), (dict(lr=-1.0), ValueError, "lr"),
    (dict(lr=float("inf")), ValueError, "lr"), (dict(l2=[0.1]), TypeError, "l2"), (dict(l2=-0.5), ValueError, "l2"),
    (dict(batch_size=2.5), TypeError, "batch_size"), (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=None), TypeError, "batch_size"), (dict(loss="nll"), ValueError, "loss"),
    (dict(optimizer="adagrad"), ValueError, "optimizer"), (dict(initial_state="ones"), ValueError, "initial_state"),
    (dict(rule="bptt"), ValueError, "no online form"), (dict(rule=rules.EBPTT(window=2 ** 64)), ValueError, "window"),
]


def _learner_constructor_errors_name_the_argument(data):
    change, exc, pattern = data.draw(st.sampled_from(BAD_LEARNER), "case")
    kw = dict(rule="rflo")
    kw.update(change)
    with pytest.raises(exc, match=pattern):
        OnlineLearner(LocalRNN(2, 3, dtype=DT), nn.Linear(3, 2, dtype=DT), **kw)


test_learner_constructor_errors, test_learner_constructor_errors_slow = tiers(fast=15, slow=100)(
    _learner_constructor_errors_name_the_argument)
