"""OnlineEnsemble (OnlineLearner.stack) and the op online_learn_members (docs/algorithms.md §2.10): every member
of an ensemble equals its learner run alone, bitwise (torch.equal), for every online rule, with shared and
per-member inputs, float64 and float32 (RFLO / e-prop at batch 1 to rounding: the CPU's fast path); resume from state_dict; unstack; the refusals, and a refused fit or
call changes nothing."""
import copy
import io

import pytest
import torch
from torch import nn

from helpers import assert_same_learner
from torch_local_rnn import LocalRNN, OnlineEnsemble, OnlineLearner, ops, rules

ONLINE_RULES = ["output_only", "rtrl", "f_bptt", "e_bptt", "rflo", "eprop", "uoro", "kf_rtrl", "rkf_rtrl", "kernl",
                "dni", "dni_b"]
E, B, T, I, N, O, CHUNK = 3, 2, 17, 3, 5, 2, 5
OPS = torch.ops.torch_local_rnn
# rflo and eprop at batch 1 under sgd take the CPU's member-lane fast path (csrc/cpu/members_simd_cpu.cpp): there a
# member equals its learner alone to rounding, not bitwise (tests/modules/test_ensemble_simd.py); every other case
# here (B = 2, the other rules) runs each member's own kernel and stays bitwise.
FAST_PATH_RULES = ("rflo", "eprop")


def member_rule(name, e):
    """Member e's config: the rule's float options differ between members where the rule has any."""
    if name == "rflo":
        return rules.RFLO(trace_alpha=(0.3, 0.5, 0.8)[e])
    if name == "f_bptt":
        return rules.FBPTT(truncation=3)
    if name == "e_bptt":
        return rules.EBPTT(window=3)
    if name == "kernl":
        return rules.KeRNL(sigma=(1e-3, 0.01, 0.05)[e], lr=(0.1, 0.3, 0.5)[e], reset_interval=4)
    if name in ("dni", "dni_b"):
        cls = rules.DNI if name == "dni" else rules.DNIb
        return cls(lr_sg=(0.01, 0.05, 0.1)[e], lr_j=0.05, fix_interval=2)
    return rules.resolve(name)


def member_alpha(rule, e):
    """(1.0, 0.7, 0.5)[e] where the rule allows it (rule.check), else 1.0."""
    try:
        rule.check((1.0, 0.7, 0.5)[e], "online", "test")
        return (1.0, 0.7, 0.5)[e]
    except ValueError:
        return 1.0


def make_learner(name, e, dtype=torch.float64, **kw):
    rule = member_rule(name, e)
    torch.manual_seed(10 + e)  # the readout's init
    rnn = LocalRNN(I, N, alpha=member_alpha(rule, e), generator=torch.Generator().manual_seed(20 + e), dtype=dtype)
    readout = nn.Linear(N, O, dtype=dtype)
    options = dict(rule=rule, loss="mse", lr=(0.05, 0.02, 0.1)[e], batch_size=B, generator=torch.Generator().manual_seed(30 + e),
                   l2=(0.0, 1e-3, 0.0)[e], initial_state=("zeros", "random", "zeros")[e])
    options.update(kw)
    return OnlineLearner(rnn, readout, **options)


def make_members(name, dtype=torch.float64, **kw):
    return [make_learner(name, e, dtype, **kw) for e in range(E)]


def data(dtype=torch.float64, per_member=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    lead = (T, E, B) if per_member else (T, B)
    return torch.randn(*lead, I, generator=g, dtype=dtype), torch.randn(*lead, O, generator=g, dtype=dtype)


def assert_close_learner(got, want, context, **tol):
    a, b = got.state_dict(), want.state_dict()
    assert a.keys() == b.keys(), context
    for key in a:
        torch.testing.assert_close(a[key], b[key], **tol, msg=lambda m: f"{context}: {key}: {m}")


@pytest.mark.parametrize("per_member", [False, True], ids=["shared_x", "per_member_x"])
@pytest.mark.parametrize("name", ONLINE_RULES)
def test_members_equal_their_learners_alone(name, per_member):
    learners = make_members(name)
    alone = [copy.deepcopy(m) for m in learners]
    ens = OnlineLearner.stack(learners)
    x, y = data(per_member=per_member)
    losses = ens.fit(x, y, chunk_size=CHUNK)
    assert losses.shape == (T, E, B)
    for e, (learner, member) in enumerate(zip(alone, ens.unstack())):
        xe, ye = (x[:, e], y[:, e]) if per_member else (x, y)
        assert torch.equal(losses[:, e], learner.fit(xe, ye, chunk_size=CHUNK)), f"{name} member {e} losses"
        assert_same_learner(member, learner, f"{name} member {e}")
        assert torch.equal(ens.evaluate(x, y)[:, e], learner.evaluate(xe, ye)), f"{name} member {e} evaluate"
    # the members did learn, and differently
    assert not torch.equal(ens.weight_out[0], ens.weight_out[1])


@pytest.mark.parametrize("name", ["rflo", "kernl", "dni", "uoro"])
def test_members_equal_their_learners_alone_float32(name):
    # x (T, input_size): one stream (B = 1), losses (T, E)
    learners = make_members(name, torch.float32, batch_size=1)
    alone = [copy.deepcopy(m) for m in learners]
    ens = OnlineEnsemble.stack(learners)
    x, y = (t[:, 0] for t in data(torch.float32))
    losses = ens.fit(x, y, chunk_size=CHUNK)
    assert losses.shape == (T, E) and losses.dtype == torch.float32
    for e, (learner, member) in enumerate(zip(alone, ens.unstack())):
        want = learner.fit(x, y, chunk_size=CHUNK)
        if name in FAST_PATH_RULES:  # B = 1 RFLO / e-prop: the CPU's member-lane path, equal to rounding (§2.10)
            torch.testing.assert_close(losses[:, e], want, rtol=1e-5, atol=1e-5)
            assert_close_learner(member, learner, f"{name} member {e}", rtol=1e-5, atol=1e-5)
        else:
            assert torch.equal(losses[:, e], want), f"{name} member {e}"
            assert_same_learner(member, learner, f"{name} member {e}")


def test_callable_lr_is_evaluated_per_member_per_chunk():
    schedules = [lambda step, e=e: 0.1 / (1 + step * (e + 1)) for e in range(E)]
    learners = [make_learner("rflo", e, lr=schedules[e]) for e in range(E)]
    alone = [copy.deepcopy(m) for m in learners]
    ens = OnlineLearner.stack(learners)
    x, y = data()
    losses = ens.fit(x, y, chunk_size=CHUNK)
    for e, learner in enumerate(alone):
        assert torch.equal(losses[:, e], learner.fit(x, y, chunk_size=CHUNK))
    assert ens.lr_now() == [learner.lr_now() for learner in alone]


@pytest.mark.parametrize("name", ["kernl", "dni", "uoro", "rtrl"])
def test_state_dict_resume_equals_uninterrupted(name):
    x, y = data(per_member=True)
    whole = OnlineLearner.stack(make_members(name))
    L_whole = whole.fit(x, y, chunk_size=CHUNK)
    first = OnlineLearner.stack(make_members(name))
    L_first = first.fit(x[:8], y[:8], chunk_size=CHUNK)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    resumed = OnlineLearner.stack(make_members(name))
    resumed.load_state_dict(torch.load(buf))
    L_second = resumed.fit(x[8:], y[8:], chunk_size=CHUNK)
    assert torch.equal(torch.cat([L_first, L_second]), L_whole)
    a, b = resumed.state_dict(), whole.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_unstack_returns_clones_and_leaves_the_learners_alone():
    learners = make_members("rflo")
    before = [copy.deepcopy(m.state_dict()) for m in learners]
    ens = OnlineLearner.stack(learners)
    ens.fit(*data(), chunk_size=CHUNK)
    for m, saved in zip(learners, before):  # stacking copied them
        assert all(torch.equal(m.state_dict()[k], v) for k, v in saved.items())
    members = ens.unstack()
    weight = ens.weight_hh[0].clone()
    members[0].rnn.weight_hh_l0.data.add_(1.0)
    members[0].hidden.add_(1.0)
    assert torch.equal(ens.weight_hh[0], weight) and not torch.equal(ens.hidden[0], members[0].hidden)
    assert members[0] is not members[1] and members[0].rnn.weight_hh_l0.data_ptr() != members[1].rnn.weight_hh_l0.data_ptr()


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("change, what", [
    (lambda: make_learner("rflo", 1, batch_size=3), "batch_size"),
    (lambda: make_learner("rtrl", 1), "rule"),
    (lambda: make_learner("rflo", 1, loss="cross_entropy"), "loss"),
    (lambda: make_learner("rflo", 1, optimizer="adam"), "optimizer"),
    (lambda: make_learner("rflo", 1, dtype=torch.float32), "dtype"),
    (lambda: OnlineLearner(LocalRNN(I, N + 1, rule="rflo", dtype=torch.float64), nn.Linear(N + 1, O, dtype=torch.float64),
                           loss="mse", batch_size=B), "hidden_size"),
])
def test_refuses_members_that_differ_in_what_is_shared(change, what):
    learners = make_members("rflo")
    learners[1] = change()
    with pytest.raises(ValueError, match=rf"learners\[1\] to share the {what} of learners\[0\]"):
        OnlineLearner.stack(learners)


def test_refuses_the_general_path_process_groups_and_non_learners():
    learners = make_members("rflo")
    general = make_learner("rflo", 2, loss=lambda z, y: ((z - y) ** 2).sum(-1))
    with pytest.raises(ValueError, match=r"learners\[2\] runs the general path"):
        OnlineLearner.stack(learners[:2] + [general])
    learners[1].sync = object()  # what a process_group sets
    with pytest.raises(ValueError, match=r"learners\[1\] has a process_group"):
        OnlineLearner.stack(learners)
    with pytest.raises(TypeError, match=r"learners\[0\] to be an OnlineLearner"):
        OnlineLearner.stack([nn.Linear(2, 2)])
    with pytest.raises(TypeError, match="non-empty list"):
        OnlineLearner.stack([])


@pytest.mark.parametrize("name", ["kernl", "dni"])
def test_a_refused_fit_changes_nothing(name):
    ens = OnlineLearner.stack(make_members(name))
    before = copy.deepcopy(ens.state_dict())
    ens._alphas[2] = 1.5  # member 2's alpha out of (0, 1]: the op refuses after the noise and labels were set
    with pytest.raises(RuntimeError, match=r"online_learn_members \(member 2\): expected alpha in \(0, 1\]"):
        ens.fit(*data(), chunk_size=CHUNK)
    with pytest.raises(ValueError, match="expected x of shape"):
        ens.fit(torch.zeros(T, B, I + 1, dtype=torch.float64), torch.zeros(T, B, O, dtype=torch.float64))
    after = ens.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())


# ----------------------------------------------------------------------------- the op
def op_args(name="rflo", dtype=torch.float64):
    """online_learn_members' arguments from an ensemble's buffers (copies: the op writes them)."""
    ens = OnlineLearner.stack(make_members(name, dtype))
    x, y = data(dtype)
    c = lambda t: None if t is None else t.clone()  # noqa: E731
    noise = [] if not ens._rules[0].stochastic else [
        torch.stack([r.noise(T, B, N, torch.Generator().manual_seed(e), dtype=dtype)[k] for e, r in enumerate(ens._rules)])
        for k in range(len(ens._rules[0].noise(1, B, N, torch.Generator(), dtype=dtype)))]
    return [name, x, y, c(ens.hidden), *(c(getattr(ens, k)) for k in ("weight_hh", "weight_ih", "bias", "weight_out",
            "bias_out")), [c(t) for t in ens.rule_state().values()], None, c(ens.feedback), ens._alphas, "tanh", "mse",
            [0.05, 0.02, 0.1], ens._rule_options, noise]


@pytest.mark.parametrize("name", ["rflo", "uoro", "dni"])
def test_opcheck(name):
    torch.library.opcheck(OPS.online_learn_members.default, op_args(name),
                          test_utils=("test_schema", "test_autograd_registration", "test_faketensor"))


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.__setitem__(12, []), r"alpha to hold one value per member \(at least one member\)"),
    (lambda a: a.__setitem__(15, [0.1]), r"lr to hold one value per member \(3, the length of alpha\)"),
    (lambda a: a.__setitem__(4, a[4][:2]), r"weight_hh of shape \(members, hidden_size, hidden_size\) with members = 3"),
    (lambda a: a.__setitem__(1, a[1][:, :, None]), r"x of shape \(seq_len, batch, input_size\) shared by the members"),
    (lambda a: a.__setitem__(16, [0.3, 0.5]), r"rule_options to hold the same number of values for each of the 3"),
    (lambda a: a.__setitem__(12, [1.0, 1.0, 2.0]), r"online_learn_members \(member 2\): expected alpha in \(0, 1\]"),
    (lambda a: a.__setitem__(3, a[3][:, :1]), r"online_learn_members \(member 0\): expected hidden"),
])
def test_op_errors_name_the_argument_and_member_and_change_nothing(edit, message):
    args = op_args()
    edit(args)
    before = [t.clone() if isinstance(t, torch.Tensor) else t for t in args]
    for kernel in (OPS.online_learn_members, ops.online_learn_members):
        with pytest.raises(RuntimeError, match=message):
            kernel(*args)
    for got, want in zip(args, before):
        if isinstance(want, torch.Tensor):
            assert torch.equal(got, want)
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode() as mode:  # the fake says the same
        fake = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else
                [mode.from_tensor(t) for t in a] if isinstance(a, list) and a and isinstance(a[0], torch.Tensor) else a
                for a in args]
        with pytest.raises(RuntimeError, match=message):
            OPS.online_learn_members(*fake)


@pytest.mark.parametrize("name, hidden", [("rtrl", 24), ("kf_rtrl", 48), ("rflo", 96)])
def test_big_phases_equal_too(name, hidden):
    """Phases big enough that the learner alone runs them on the thread pool (cpu/online_step_cpu.h) while a member
    runs them on its own thread: each element has one owner either way, so the results are the same bits."""
    def make(e):
        torch.manual_seed(e)
        return OnlineLearner(LocalRNN(I, hidden, generator=torch.Generator().manual_seed(e)), nn.Linear(hidden, O),
                             rule=member_rule(name, e), loss="mse", lr=0.01 * (e + 1), batch_size=B,
                             generator=torch.Generator().manual_seed(40 + e))
    learners = [make(e) for e in range(2)]
    alone = [copy.deepcopy(m) for m in learners]
    ens = OnlineLearner.stack(learners)
    x, y = (t[:6].float() for t in data())
    losses = ens.fit(x, y, chunk_size=CHUNK)
    for e, (learner, member) in enumerate(zip(alone, ens.unstack())):
        assert torch.equal(losses[:, e], learner.fit(x, y, chunk_size=CHUNK)), f"{name} member {e}"
        assert_same_learner(member, learner, f"{name} member {e}")


def test_schedule_callback_and_progress_reach_every_member():
    learners = make_members("rflo")
    x, y = data()
    schedule = torch.linspace(0.02, 0.001, x.shape[0], dtype=x.dtype)
    alone = [copy.deepcopy(m) for m in learners]
    for m in alone:
        m.fit(x, y, chunk_size=CHUNK, lr_schedule=schedule)
    calls = []
    ens = OnlineLearner.stack(learners)
    ens.fit(x, y, chunk_size=CHUNK, lr_schedule=schedule, progress=True,
            callback=lambda e, info: calls.append((info["start"], info["stop"])))
    assert calls[0] == (0, CHUNK) and calls[-1][1] == x.shape[0]
    for e, m in enumerate(alone):
        assert torch.equal(ens.unstack()[e].rnn.weight_hh_l0, m.rnn.weight_hh_l0)


def test_another_rules_or_other_options_state_is_refused():
    ens = OnlineLearner.stack(make_members("rflo"))
    state = ens.state_dict()
    other = OnlineLearner.stack(make_members("eprop"))
    with pytest.raises(RuntimeError, match="the state_dict is the state of rule 'rflo'.*this ensemble runs rule 'eprop'"):
        other.load_state_dict(state)
    ens.load_state_dict(state)  # its own loads
