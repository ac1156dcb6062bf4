"""Property-based tests of the ops (hypothesis): random small problems (float64) for every op and every rule.

* valid arguments: finite results equal to torch_local_rnn.reference (the sequence forms' gradients, the online
  loops' losses, network state and weights), and the inputs the schema does not mark as written unchanged;
* invalid arguments (one argument broken: its rank, a size, its dtype, its layout, a scalar, a rule option): a
  RuntimeError naming the op and that argument, nothing changed (the written arguments included), and the fake
  kernel on meta tensors rejects it too, naming the same argument.

Fast tier: a few derandomized examples per test (tests/property_helpers.py); the ``*_slow`` twins draw many more.
"""
import math

import pytest
import torch
from hypothesis import strategies as st

from helpers import DT
from property_helpers import assert_close, online_reference, sequence_reference, tiers, to_meta
from torch_local_rnn import ops, reference as R, rules

OPS = torch.ops.torch_local_rnn
SEQUENCE_RULES = ["bptt", "rflo", "eprop", "output_only", "rtrl", "f_bptt", "e_bptt", "uoro", "kf_rtrl", "rkf_rtrl",
                  "kernl"]
ONLINE_RULES = ["output_only", "rtrl", "f_bptt", "e_bptt", "rflo", "eprop", "uoro", "kf_rtrl", "rkf_rtrl", "kernl",
                "dni", "dni_b"]


# ----------------------------------------------------------------------------- strategies
def sizes(data, T_max=4):
    return dict(T=data.draw(st.integers(1, T_max), "T"), B=data.draw(st.integers(1, 3), "B"),
                I=data.draw(st.integers(1, 3), "I"), n=data.draw(st.integers(1, 4), "n"),
                O=data.draw(st.integers(1, 3), "O"))


def tensors(seed, **shapes):
    """Random float64 tensors (N(0, 1) times a scale) by name: shapes[name] = (shape, scale)."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(*shape, generator=g, dtype=DT) * scale for k, (shape, scale) in shapes.items()}


def network(data, s):
    T, B, I, n = s["T"], s["B"], s["I"], s["n"]
    seed = data.draw(st.integers(0, 2 ** 16), "seed")
    return tensors(seed, x=((T, B, I), 1.0), h0=((B, n), 0.5), weight_hh=((n, n), 0.9 / math.sqrt(n)),
                   weight_ih=((n, I), 1.0 / math.sqrt(I)), bias=((n,), 0.1), grad_output=((T, B, n), 1.0))


def scalars(data):
    return dict(alpha=data.draw(st.sampled_from([1.0, 0.5, 0.13]), "alpha"),
                nonlinearity=data.draw(st.sampled_from(["tanh", "relu", "sigmoid"]), "nonlinearity"))


def sequence_config(name, data):
    """A rule config with drawn options (sequence form)."""
    if name == "rflo":
        return rules.RFLO(trace_alpha=data.draw(st.sampled_from([None, 0.3, 1.0]), "trace_alpha"))
    if name == "f_bptt":
        return rules.FBPTT(truncation=data.draw(st.integers(1, 5), "truncation"))
    if name == "e_bptt":
        return rules.EBPTT(window=data.draw(st.integers(1, 5), "window"))
    if name in ("uoro", "kf_rtrl", "rkf_rtrl"):
        cls = {"uoro": rules.UORO, "kf_rtrl": rules.KFRTRL, "rkf_rtrl": rules.RKFRTRL}[name]
        rho = data.draw(st.sampled_from([None, (0.7, 1.3)]), "rho")
        return cls(noise_kind=data.draw(st.sampled_from(["discrete", "gaussian"]), "noise_kind"),
                   rho0=None if rho is None else rho[0], rho1=None if rho is None else rho[1],
                   legacy_alpha_omission=data.draw(st.booleans(), "legacy"))
    if name == "kernl":
        return rules.KeRNL(version=data.draw(st.sampled_from(["2020", "2019-approx", "2019-exact"]), "version"))
    return rules.resolve(name)


def online_config(name, data):
    """A rule config with drawn options (online form)."""
    if name == "kernl":
        return rules.KeRNL(sigma=data.draw(st.sampled_from([0.0, 1e-3, 0.05]), "sigma"),
                           lr=data.draw(st.sampled_from([0.0, 0.3]), "lr_aux"),
                           reset_interval=data.draw(st.sampled_from([None, 1, 2, 3]), "reset_interval"),
                           version=data.draw(st.sampled_from(["2020", "2019-approx", "2019-exact"]), "version"),
                           learned_alpha_e=data.draw(st.booleans(), "learned_alpha_e"))
    if name in ("dni", "dni_b"):
        cls = rules.DNI if name == "dni" else rules.DNIb
        return cls(lr_sg=data.draw(st.sampled_from([0.0, 0.05]), "lr_sg"),
                   lr_j=data.draw(st.sampled_from([0.0, 0.05]), "lr_j"),
                   fix_interval=data.draw(st.integers(1, 3), "fix_interval"),
                   alpha_e=data.draw(st.sampled_from([0.0, 0.4]), "alpha_e"),
                   version=data.draw(st.sampled_from([2019, 2020]), "version"))
    return sequence_config(name, data)  # (UORO's forward-difference epsilon variant has its own tests)


def options_of(cfg, alpha, form):
    if cfg.name == "eprop":
        return []
    return cfg.sequence_options(alpha) if form == "sequence" else cfg.online_options(alpha)


# ----------------------------------------------------------------------------- helpers
def snapshot(values):
    """Clones of every tensor (and tensor list) among values, to check later that nothing changed."""
    out = []
    for v in values:
        if isinstance(v, torch.Tensor):
            out.append(v.clone())
        elif isinstance(v, list) and all(isinstance(t, torch.Tensor) for t in v):
            out.append([t.clone() for t in v])
        else:
            out.append(v)
    return out


def assert_unchanged(values, before, names):
    for v, b, name in zip(values, before, names):
        if isinstance(v, torch.Tensor):
            assert v.shape == b.shape and torch.equal(v, b), f"{name} was changed"
        elif isinstance(v, list) and v and isinstance(v[0], torch.Tensor):
            for k, (t, u) in enumerate(zip(v, b)):
                assert torch.equal(t, u), f"{name}[{k}] was changed"


def sequence_tensors(cfg, T, B, n, seed):
    g = torch.Generator().manual_seed(seed)
    if cfg.name == "kernl":
        mixing = torch.eye(n, dtype=DT) + 0.2 * torch.randn(n, n, generator=g, dtype=DT)
        rates = 0.2 + 0.6 * torch.rand(n, generator=g, dtype=DT)
        return [mixing, rates]
    return cfg.noise(T, B, n, g, dtype=DT)


# ----------------------------------------------------------------------------- valid: the sequence forms
def _forward_matches_reference(data):
    s, sc = sizes(data), scalars(data)
    net = network(data, s)
    args = (net["x"], net["h0"], net["weight_hh"], net["weight_ih"], net["bias"], sc["alpha"], sc["nonlinearity"])
    before = snapshot(args)
    out, dphi = ops.leaky_rnn_forward(*args)
    states, pre = R._pre_activations(*args)
    assert_close(out, states, "output")
    assert_close(dphi, R.phi_prime(pre, sc["nonlinearity"]), "dphi")
    assert_unchanged(args, before, ["x", "h0", "weight_hh", "weight_ih", "bias"])


test_forward_matches_reference, test_forward_matches_reference_slow = tiers(fast=10, slow=300)(
    _forward_matches_reference)


@pytest.mark.parametrize("name", SEQUENCE_RULES)
def _sequence_rule_matches_reference(name, data):
    """leaky_rnn_rule_backward and the Autograd of leaky_rnn (and the bptt / rflo aliases) against the reference."""
    s, sc = sizes(data), scalars(data)
    net = network(data, s)
    alpha, nl = sc["alpha"], sc["nonlinearity"]
    cfg = sequence_config(name, data)
    opts = options_of(cfg, alpha, "sequence")
    rt = sequence_tensors(cfg, s["T"], s["B"], s["n"], data.draw(st.integers(0, 2 ** 16), "noise_seed"))
    want = sequence_reference(cfg, net, alpha, nl, rt)
    x, h0, W, U, b, grad = (net[k] for k in ("x", "h0", "weight_hh", "weight_ih", "bias", "grad_output"))
    out, dphi = ops.leaky_rnn_forward(x, h0, W, U, b, alpha, nl)
    args = (grad, x, h0, W, U, out, dphi, alpha, name, opts, rt)
    before = snapshot(args)
    got = ops.leaky_rnn_rule_backward(*args)
    names = ["grad_x", "grad_h0", "grad_weight_hh", "grad_weight_ih", "grad_bias"]
    for g_, w_, what in zip(got, want, names):
        assert_close(g_, w_, f"{name} {what}")
    assert_unchanged(args, before, ["grad_output", "x", "h0", "weight_hh", "weight_ih", "output", "dphi", "alpha",
                                    "rule", "rule_options", "rule_tensors"])
    # the Autograd kernel of leaky_rnn hands the same estimate to autograd
    leaves = [t.clone().requires_grad_(True) for t in (x, h0, W, U, b)]
    states = ops.leaky_rnn(*leaves, alpha, nl, name, opts, rt)
    assert_close(states.detach(), out, f"{name} leaky_rnn output")
    states.backward(grad)
    for leaf, w_, what in zip(leaves, want, names):
        assert_close(leaf.grad, w_, f"{name} leaky_rnn {what}")
    if name == "bptt":
        for g_, w_ in zip(ops.leaky_rnn_bptt_backward(*args[:8]), want):
            assert_close(g_, w_, "leaky_rnn_bptt_backward")
    if name in ("rflo", "eprop"):
        rate = alpha if name == "eprop" or cfg.trace_alpha is None else cfg.trace_alpha
        for g_, w_ in zip(ops.leaky_rnn_rflo_backward(*args[:8], rate), want):
            assert_close(g_, w_, "leaky_rnn_rflo_backward")


test_sequence_rule_matches_reference, test_sequence_rule_matches_reference_slow = tiers(fast=3, slow=60)(
    _sequence_rule_matches_reference)


# ----------------------------------------------------------------------------- valid: the online forms
def online_problem(name, data, T_max=4):
    """The arguments of online_learn (a dict by schema name) and the rule config."""
    s, sc = sizes(data, T_max), scalars(data)
    T, B, I, n, O = s["T"], s["B"], s["I"], s["n"], s["O"]
    net = network(data, s)
    cfg = online_config(name, data)
    loss = data.draw(st.sampled_from(["cross_entropy", "mse", "mse_mean"]), "loss")
    seed = data.draw(st.integers(0, 2 ** 16), "online_seed")
    g = torch.Generator().manual_seed(seed)
    y = (torch.softmax(torch.randn(T, B, O, generator=g, dtype=DT), -1) if loss == "cross_entropy"
         else torch.randn(T, B, O, generator=g, dtype=DT))
    W_out, b_out = torch.randn(O, n, generator=g, dtype=DT) / math.sqrt(n), 0.1 * torch.randn(O, generator=g, dtype=DT)
    state = list(cfg.online_state(B, n, I, outputs=O, generator=g, weight_hh=net["weight_hh"], dtype=DT).values())
    if name.startswith("dni"):
        state[4].copy_(y[0])  # label_prev := y_0, as OnlineLearner does
    feedback = torch.randn(O, n, generator=g, dtype=DT) if data.draw(st.booleans(), "feedback") else None
    a = dict(rule=name, x=net["x"], y=y, hidden=net["h0"].clone(), weight_hh=net["weight_hh"].clone(),
             weight_ih=net["weight_ih"].clone(), bias=net["bias"].clone(), weight_out=W_out, bias_out=b_out,
             state=state, rec_grad=torch.zeros(n, n + I + 1, dtype=DT) if data.draw(st.booleans(), "rec") else None,
             feedback=feedback, alpha=sc["alpha"], nonlinearity=sc["nonlinearity"], loss=loss,
             lr=data.draw(st.sampled_from([0.0, 0.05, 0.2]), "lr"), rule_options=options_of(cfg, sc["alpha"], "online"),
             rule_tensors=cfg.noise(T, B, n, g, dtype=DT),
             record=torch.zeros(T, B, 4, n, dtype=DT) if name.startswith("dni") and data.draw(st.booleans(), "rd")
             else None,
             l2=data.draw(st.sampled_from([0.0, 0.01]), "l2"))
    return a, cfg


ONLINE_NAMES = ["rule", "x", "y", "hidden", "weight_hh", "weight_ih", "bias", "weight_out", "bias_out", "state",
                "rec_grad", "feedback", "alpha", "nonlinearity", "loss", "lr", "rule_options", "rule_tensors",
                "record", "l2"]
WRITTEN = ("hidden", "weight_hh", "weight_ih", "bias", "weight_out", "bias_out", "state", "rec_grad", "record")


@pytest.mark.parametrize("name", ONLINE_RULES)
def _online_rule_matches_reference(name, data):
    a, cfg = online_problem(name, data)
    ref = online_reference(cfg, {k: (snapshot([v])[0]) for k, v in a.items()})
    read_only = [k for k in ONLINE_NAMES if k not in WRITTEN]
    before = snapshot([a[k] for k in read_only])
    losses = ops.online_learn(**a)
    assert_unchanged([a[k] for k in read_only], before, read_only)
    assert_close(losses, ref.losses, f"{name} losses")
    assert_close(a["hidden"], ref.hidden, f"{name} hidden")
    for k in ("weight_hh", "weight_ih", "bias", "weight_out", "bias_out"):
        assert_close(a[k], getattr(ref, k), f"{name} {k}")
    if a["rec_grad"] is not None and hasattr(ref, "rec_grad"):
        assert_close(a["rec_grad"], ref.rec_grad, f"{name} rec_grad")
    if a["record"] is not None:
        assert_close(a["record"], ref.state["record"], f"{name} record")


test_online_rule_matches_reference, test_online_rule_matches_reference_slow = tiers(fast=3, slow=60)(
    _online_rule_matches_reference)


def _rflo_online_matches_reference(data):
    a, cfg = online_problem("rflo", data)
    args = [a[k] for k in ("x", "y", "hidden")] + [a["state"][0]] + [
        a[k] for k in ("weight_hh", "weight_ih", "bias", "weight_out", "bias_out", "feedback", "alpha")]
    rate = a["alpha"] if cfg.trace_alpha is None else cfg.trace_alpha
    args += [rate, a["nonlinearity"], a["loss"], a["lr"], a["l2"]]
    ref = R.rflo_online(*snapshot(args[:10]), alpha=a["alpha"], trace_alpha=rate, nonlinearity=a["nonlinearity"],
                        loss=a["loss"], lr=a["lr"], l2=a["l2"])
    losses = ops.rflo_online(*args)
    assert_close(losses, ref.losses, "rflo_online losses")
    for k, v in zip(("hidden", "trace", "weight_hh", "weight_ih", "bias", "weight_out", "bias_out"), args[2:9]):
        assert_close(v, getattr(ref, k), f"rflo_online {k}")


test_rflo_online_matches_reference, test_rflo_online_matches_reference_slow = tiers(fast=5, slow=100)(
    _rflo_online_matches_reference)


# ----------------------------------------------------------------------------- invalid: one argument broken


def break_tensor(t, how, dim):
    """t with one property broken: a dimension dropped or grown, float32, or (how='strided') a non-contiguous
    view of the same values."""
    if how == "rank":
        return t.reshape(*t.shape, 1) if t.dim() < 2 else t.select(0, 0)
    if how == "size":
        shape = list(t.shape)
        shape[dim % t.dim()] += 1
        return torch.zeros(shape, dtype=t.dtype)
    if how == "dtype":
        return t.float()
    base = torch.zeros(*t.shape, 2, dtype=t.dtype)
    base[..., 0] = t
    return base[..., 0]


def expect_rejected(op, args, names, argument, pattern, meta=True):
    """op(*args) raises a RuntimeError '<op>: ...' matching pattern, changing nothing; so does its fake."""
    fn = getattr(OPS, op).default
    before = snapshot(args)
    with pytest.raises(RuntimeError) as info:
        fn(*args)
    message = str(info.value).splitlines()[0]
    # leaky_rnn runs leaky_rnn_forward, whose errors name it (the network's arguments are checked there)
    prefixes = (f"{op}: ", "leaky_rnn_forward: ") if op == "leaky_rnn" else (f"{op}: ",)
    assert message.startswith(prefixes), message
    assert pattern in message, f"{argument}: {message!r} does not name {pattern!r}"
    assert_unchanged(args, before, names)
    if meta:
        with pytest.raises(RuntimeError) as info:
            fn(*[to_meta(a) for a in args])
        fake = str(info.value).splitlines()[0]
        assert fake.startswith(prefixes) and pattern in fake, f"fake of {op} for {argument}: {fake!r}"


# Broken scalars: (argument, value, the words the error must contain)
BAD_SCALARS = [("alpha", 0.0, "alpha"), ("alpha", 1.5, "alpha"), ("alpha", float("nan"), "alpha"),
               ("nonlinearity", "gelu", "nonlinearity"), ("loss", "l1", "loss"), ("lr", -0.1, "lr"),
               ("lr", float("inf"), "lr"), ("l2", -1.0, "l2"), ("l2", float("nan"), "l2")]


def _online_learn_rejects(data):
    name = data.draw(st.sampled_from(ONLINE_RULES), "rule")
    a, cfg = online_problem(name, data, T_max=3)
    kind = data.draw(st.sampled_from(["tensor", "scalar", "state", "rule_tensor", "x"]), "kind")
    if kind == "scalar":
        arg, value, pattern = data.draw(st.sampled_from(BAD_SCALARS), "scalar")
        a[arg] = value
    elif kind == "x":
        how = data.draw(st.sampled_from(["rank", "half"]), "how")
        a["x"] = a["x"][0] if how == "rank" else a["x"].half()
        arg, pattern = "x", "x"
    elif kind == "state" and a["state"]:
        k = data.draw(st.integers(0, len(a["state"]) - 1), "k")
        how = data.draw(st.sampled_from(["size", "dtype", "strided"] if a["state"][k].numel() > 1
                                        else ["size", "dtype"]), "how")
        a["state"] = list(a["state"])
        a["state"][k] = break_tensor(a["state"][k], how, data.draw(st.integers(0, 3), "dim"))
        arg, pattern = "state", f"state[{k}]"
    elif kind == "rule_tensor" and a["rule_tensors"]:
        how = data.draw(st.sampled_from(["size", "dtype"]), "how")
        a["rule_tensors"] = [break_tensor(a["rule_tensors"][0], how, data.draw(st.integers(0, 2), "dim"))]
        arg, pattern = "rule_tensors", "rule_tensors[0]"
    else:
        arg = data.draw(st.sampled_from(["hidden", "weight_ih", "bias", "weight_out", "bias_out", "feedback",
                                         "rec_grad", "record", "weight_hh"]), "arg")
        if a[arg] is None:
            a[arg] = torch.zeros(1, dtype=DT)  # present but of the wrong rank
            how = "given"
        else:
            writes = arg in WRITTEN and a[arg].numel() > 1
            how = data.draw(st.sampled_from(["rank", "size", "dtype"] + (["strided"] if writes else [])), "how")
            a[arg] = break_tensor(a[arg], how, data.draw(st.integers(0, 3), "dim"))
        pattern = arg  # (record for a rule that records none: "... but got record for rule ...")
    args = [a[k] for k in ONLINE_NAMES]
    expect_rejected("online_learn", args, ONLINE_NAMES, arg, pattern)


test_online_learn_rejects, test_online_learn_rejects_slow = tiers(fast=40, slow=1000)(_online_learn_rejects)


BACKWARD_NAMES = ["grad_output", "x", "h0", "weight_hh", "weight_ih", "output", "dphi", "alpha", "rule",
                  "rule_options", "rule_tensors"]
FORWARD_NAMES = ["x", "h0", "weight_hh", "weight_ih", "bias", "alpha", "nonlinearity"]


def _sequence_ops_reject(data):
    """leaky_rnn_forward, leaky_rnn (through autograd too), leaky_rnn_rule_backward and the two aliases."""
    s, sc = sizes(data, 3), scalars(data)
    net = network(data, s)
    x, h0, W, U, b, grad = (net[k] for k in ("x", "h0", "weight_hh", "weight_ih", "bias", "grad_output"))
    out, dphi = ops.leaky_rnn_forward(x, h0, W, U, b, sc["alpha"], sc["nonlinearity"])
    op = data.draw(st.sampled_from(["leaky_rnn_forward", "leaky_rnn", "leaky_rnn_rule_backward",
                                    "leaky_rnn_bptt_backward", "leaky_rnn_rflo_backward"]), "op")
    if op in ("leaky_rnn_forward", "leaky_rnn"):
        a = dict(zip(FORWARD_NAMES, (x, h0, W, U, b, sc["alpha"], sc["nonlinearity"])))
        breakable = ["h0", "weight_hh", "weight_ih", "bias"]
    else:
        a = dict(zip(BACKWARD_NAMES, (grad, x, h0, W, U, out, dphi, sc["alpha"], "rtrl", [], [])))
        breakable = ["grad_output", "h0", "weight_hh", "weight_ih", "output", "dphi"]
    kind = data.draw(st.sampled_from(["tensor", "alpha", "x"] + (["nonlinearity"] if "nonlinearity" in a else [])),
                     "kind")
    if kind == "tensor":
        arg = data.draw(st.sampled_from(breakable), "arg")
        how = data.draw(st.sampled_from(["rank", "size", "dtype"]), "how")
        a[arg] = break_tensor(a[arg], how, data.draw(st.integers(0, 2), "dim"))
        pattern = arg
    elif kind == "x":
        a["x"] = a["x"].long() if data.draw(st.booleans(), "int") else a["x"][0]
        arg = pattern = "x"
    elif kind == "alpha":
        a["alpha"] = data.draw(st.sampled_from([0.0, 1.5, float("nan"), -1.0]), "bad_alpha")
        arg = pattern = "alpha"
    else:
        a["nonlinearity"] = "gelu"
        arg = pattern = "nonlinearity"
    names = list(a)
    args = list(a.values())
    if op == "leaky_rnn":
        args += ["bptt", [], []]
        names += ["rule", "rule_options", "rule_tensors"]
        if data.draw(st.booleans(), "requires_grad"):  # through the Autograd kernel
            args = [t.detach().clone().requires_grad_(True) if isinstance(t, torch.Tensor) and t.is_floating_point()
                    else t for t in args]
    elif op == "leaky_rnn_bptt_backward":
        args, names = args[:8], names[:8]
    elif op == "leaky_rnn_rflo_backward":
        args, names = args[:8] + [0.3], names[:8] + ["trace_alpha"]
    expect_rejected(op, args, names, arg, pattern)


test_sequence_ops_reject, test_sequence_ops_reject_slow = tiers(fast=40, slow=1000)(_sequence_ops_reject)


def _rule_options_rejected(data):
    """A bad value of each option of each rule: every op that takes rule_options names the option; rule_check
    too. Integers from 2^63 on are refused (they would wrap in int64)."""
    name = data.draw(st.sampled_from(sorted(rules.RULES)), "rule")
    info = ops.rule_info(name)
    if not info.option_names:
        options = [0.0]  # too many
        pattern = "rule_options"
    else:
        count = max(info.option_counts)
        k = data.draw(st.integers(0, count - 1), "option")
        options = [v if not math.isnan(v) else 0.5 for v in info.option_defaults[:count]]
        bad = data.draw(st.sampled_from([-1.0, float("nan"), float("inf"), 2.0 ** 63, 2.0 ** 64, 1e300, 0.5, 7.0]),
                        "bad")
        options[k] = bad
        try:  # not every value is bad for every option (0.5 is a fine rate, 7 a fine integer)
            ops.check_rule(name, options, 0.5, "online" if info.online_form else "sequence")
            return
        except RuntimeError as error:
            message = str(error).splitlines()[0]
        pattern = info.option_names[k]
        assert message.startswith("rule_check: ") and pattern in message, message
        if bad >= 2.0 ** 63 and math.isfinite(bad):
            assert "below 2^63" in message or "to be in" in message or "0 or 1" in message, message
    form = "online" if info.online_form else "sequence"
    with pytest.raises(RuntimeError, match=pattern):
        ops.check_rule(name, options, 0.5, form)


test_rule_options_rejected, test_rule_options_rejected_slow = tiers(fast=30, slow=600)(_rule_options_rejected)
