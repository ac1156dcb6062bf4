"""The optimisers of online_learn's fused loop (docs/algorithms.md §2.7): momentum (with dampening, nesterov),
Adam and AdamW after every step, the capture mode "none" with online_optimizer_step, a per-step lr_schedule and
the optimiser's arguments. The expected values come from the pure-PyTorch reference loop driving a real
torch.optim optimiser (reference.core._online_loop's optimizer_step hook), never from the op."""
import pytest
import torch

from helpers import online_weights_problem, DT, assert_rel, generator, randn
from torch_local_rnn import ops, reference as R, rules

T, I, N, O = 8, 3, 5, 3
M = N + I + 1          # columns of [W_hh | W_ih | b]
LR, ALPHA = 0.05, 0.7
TOL = 1e-12            # float64, 8 steps: only rounding separates the fused op from torch.optim
NAMES = ("weight_hh", "weight_ih", "bias", "weight_out", "bias_out")

# (op name, optimizer_options, torch.optim class, its keyword arguments)
CONFIGS = {
    "momentum_dampening": ("momentum", [0.9, 0.3, 0], torch.optim.SGD, dict(momentum=0.9, dampening=0.3)),
    "nesterov": ("momentum", [0.8, 0.0, 1], torch.optim.SGD, dict(momentum=0.8, nesterov=True)),
    "adam": ("adam", [0.9, 0.99, 1e-8], torch.optim.Adam, dict(betas=(0.9, 0.99), eps=1e-8)),
    "adamw": ("adamw", [0.85, 0.95, 1e-6], torch.optim.AdamW, dict(betas=(0.85, 0.95), eps=1e-6)),
}
# torch.optim's state keys, in the op's slot order
SLOT_KEYS = {"momentum": ("momentum_buffer",), "adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq")}


def problem(B, seed):
    return online_weights_problem(T, B, I, N, O, seed)


class TorchOptim:
    """The reference's optimizer_step hook over a real torch.optim optimiser: the op's gradients become .grad
    (G = None counts as G = 0: every step is an optimiser step), the biases sit in a group without weight
    decay, and lrs (one per step) sets the groups' lr before each step."""

    def __init__(self, weights, cls, lr=LR, l2=0.0, lrs=None, **kw):
        self.params = [w.detach().clone().requires_grad_(True) for w in weights]
        W_hh, W_ih, b, W_out, b_out = self.params
        self.opt = cls([dict(params=[W_hh, W_ih, W_out], weight_decay=l2),
                        dict(params=[b, b_out], weight_decay=0.0)], lr=lr, foreach=False, **kw)
        self.lrs = lrs
        self.grads = None  # the last step's (G, dW_out, db_out)
        self.grad_sum = torch.zeros(N, M, dtype=DT)

    def __call__(self, t, G, dW_out, db_out, weights):
        if G is None:
            G = torch.zeros(N, M, dtype=DT)
        for p, w in zip(self.params, weights):  # the loop's weights are the optimiser's
            assert torch.equal(p.detach(), w)
        grads = (G[:, :N], G[:, N:N + I], G[:, N + I], dW_out, db_out)
        for p, g in zip(self.params, grads):
            p.grad = g.clone()
        if self.lrs is not None:
            for group in self.opt.param_groups:
                group["lr"] = float(self.lrs[t])
        self.opt.step()
        self.grads = (G, dW_out, db_out)
        self.grad_sum = self.grad_sum + G
        return tuple(p.detach().clone() for p in self.params)

    def flat_state(self, keys):
        """torch.optim's state in the op's optimizer_state layout: per slot [W_hh | W_ih | b] row-major, then
        per slot [W_out | b_out]."""
        st = [self.opt.state[p] for p in self.params]
        rec = [torch.cat([st[0][k], st[1][k], st[2][k][:, None]], 1).flatten() for k in keys]
        out = [torch.cat([st[3][k], st[4][k][:, None]], 1).flatten() for k in keys]
        return torch.cat(rec + out)


def rule_state(rule, B):
    return [s.clone() for s in rule.online_state(B, N, I, dtype=DT).values()]


def run_op(rule, x, y, hidden, weights, state, optimizer="sgd", options=(), opt_state=None, steps=0, lr=LR,
           l2=0.0, lr_schedule=None, rec_grad=None):
    """online_learn, updating hidden, weights, state, opt_state and rec_grad in place; returns the losses."""
    return ops.online_learn(rule.name, x, y, hidden, *weights, state, rec_grad, None, ALPHA, "tanh",
                            "cross_entropy", lr, rule.online_options(ALPHA), [], None, l2, optimizer,
                            list(options), opt_state, steps, lr_schedule)


def run_reference(rule, x, y, hidden, weights, hook, lr=LR, l2=0.0):
    kw = dict(alpha=ALPHA, loss="cross_entropy", lr=lr, l2=l2, optimizer_step=hook)
    B = hidden.shape[0]
    if rule.name == "rflo":
        return R.rflo_online(x, y, hidden, torch.zeros(B, N, M, dtype=DT), *weights, **kw)
    if rule.name == "rtrl":
        return R.rtrl_online(x, y, hidden, torch.zeros(B, N, N * M, dtype=DT), *weights, **kw)
    return R.output_only_online(x, y, hidden, *weights, **kw)


def zero_state(optimizer):
    return torch.zeros(ops.optimizer_state_numel(optimizer, N, I, O), dtype=DT)


def assert_weights(got, ref, tol, ctx):
    for g, name in zip(got, NAMES):
        assert_rel(g, getattr(ref, name), tol, f"{ctx} {name}")


# ----------------------------------------------------------------------------- the fused op equals torch.optim
@pytest.mark.parametrize("l2", [0.0, 0.1])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("rule,B", [(rules.RFLO(), 3), (rules.RTRL(), 2)], ids=["rflo", "rtrl"])
def test_fused_optimizer_equals_reference_with_torch_optim(rule, B, config, l2):
    optimizer, options, cls, kw = CONFIGS[config]
    x, y, hidden, weights = problem(B, seed=11)
    h, w, state, opt_state = hidden.clone(), [t.clone() for t in weights], rule_state(rule, B), zero_state(optimizer)
    rec_grad = torch.zeros(N, M, dtype=DT)
    losses = run_op(rule, x, y, h, w, state, optimizer, options, opt_state, l2=l2, rec_grad=rec_grad)

    hook = TorchOptim(weights, cls, l2=l2, **kw)
    ref = run_reference(rule, x, y, hidden, weights, hook)
    ctx = f"{rule.name} {config} l2={l2}"
    assert_rel(losses, ref.losses, TOL, f"{ctx} losses")
    assert_rel(h, ref.hidden, TOL, f"{ctx} hidden")
    assert_weights(w, ref, TOL, ctx)
    if rule.name == "rtrl":  # rec_grad sums the rule's G's under any optimiser (the fused RFLO never writes it)
        assert_rel(rec_grad, hook.grad_sum, TOL, f"{ctx} rec_grad")
    # the state layout of ops.optimizer_state_numel: torch.optim's buffers, slot by slot
    assert_rel(opt_state, hook.flat_state(SLOT_KEYS[optimizer]), TOL, f"{ctx} optimizer_state")
    assert (w[0] - weights[0]).abs().max() > 1e-4, "the optimiser must move W_hh"


@pytest.mark.parametrize("config", ["momentum_dampening", "adam"])
def test_a_rule_without_updates_still_takes_every_optimiser_step(config):
    """output_only never updates W_hh (G = 0 every step), yet the optimiser steps it: its L2 gradient drives
    the velocity / moments of the recurrent block from the first step on."""
    optimizer, options, cls, kw = CONFIGS[config]
    rule = rules.OutputOnly()
    x, y, hidden, weights = problem(2, seed=12)
    h, w, opt_state = hidden.clone(), [t.clone() for t in weights], zero_state(optimizer)
    run_op(rule, x, y, h, w, [], optimizer, options, opt_state, l2=0.2)
    hook = TorchOptim(weights, cls, l2=0.2, **kw)
    ref = run_reference(rule, x, y, hidden, weights, hook)
    assert_weights(w, ref, TOL, f"output_only {config}")
    assert torch.equal(w[2], weights[2]), "no gradient and no L2 on b: it stays"
    assert (w[0] - weights[0]).abs().max() > 1e-4, "L2 alone moves W_hh"


# ----------------------------------------------------------------------------- chunking and the schedule
@pytest.mark.parametrize("config", ["nesterov", "adamw"])
def test_two_calls_carrying_optimizer_steps_equal_one_call_bitwise(config):
    """Adam's bias corrections and momentum's first step depend on the step number: optimizer_steps carries it
    across calls, the state tensor carries the buffers, so a stream cut in two is the same run, bit for bit."""
    optimizer, options, _, _ = CONFIGS[config]
    rule = rules.RFLO()
    x, y, hidden, weights = problem(3, seed=13)
    h1, w1, s1, o1 = hidden.clone(), [t.clone() for t in weights], rule_state(rule, 3), zero_state(optimizer)
    l1 = run_op(rule, x, y, h1, w1, s1, optimizer, options, o1, l2=0.1)
    h2, w2, s2, o2 = hidden.clone(), [t.clone() for t in weights], rule_state(rule, 3), zero_state(optimizer)
    cut = 3
    la = run_op(rule, x[:cut], y[:cut], h2, w2, s2, optimizer, options, o2, steps=0, l2=0.1)
    lb = run_op(rule, x[cut:], y[cut:], h2, w2, s2, optimizer, options, o2, steps=cut, l2=0.1)
    assert torch.equal(torch.cat([la, lb]), l1)
    assert torch.equal(h2, h1)
    for a, b, name in zip(w2, w1, NAMES):
        assert torch.equal(a, b), name
    assert torch.equal(s2[0], s1[0]) and torch.equal(o2, o1)


@pytest.mark.parametrize("config", ["sgd", "adam"])
def test_lr_schedule_is_each_steps_learning_rate(config):
    """lr_schedule replaces lr (given 0 here, so a schedule that were ignored would freeze the weights)."""
    if config == "sgd":
        optimizer, options, cls, kw = "sgd", [], torch.optim.SGD, {}
    else:
        optimizer, options, cls, kw = CONFIGS[config]
    rule = rules.RFLO()
    x, y, hidden, weights = problem(3, seed=14)
    lrs = torch.linspace(0.08, 0.01, T, dtype=DT)
    h, w, state = hidden.clone(), [t.clone() for t in weights], rule_state(rule, 3)
    opt_state = zero_state(optimizer) if optimizer != "sgd" else None
    run_op(rule, x, y, h, w, state, optimizer, options, opt_state, lr=0.0, l2=0.1, lr_schedule=lrs.clone())
    ref = run_reference(rule, x, y, hidden, weights, TorchOptim(weights, cls, l2=0.1, lrs=lrs, **kw))
    assert_rel(h, ref.hidden, TOL, f"{config} hidden")
    assert_weights(w, ref, TOL, f"{config} schedule")


# ----------------------------------------------------------------------------- capture ("none") and online_optimizer_step
def test_none_captures_the_last_steps_gradients_and_keeps_the_weights():
    rule = rules.RFLO()
    x, y, hidden, weights = problem(3, seed=15)
    h, w, state, captured = hidden.clone(), [t.clone() for t in weights], rule_state(rule, 3), zero_state("none")
    run_op(rule, x, y, h, w, state, "none", [], captured)
    for a, b, name in zip(w, weights, NAMES):
        assert torch.equal(a, b), f"{name} must stay under 'none'"

    hook = TorchOptim(weights, torch.optim.SGD, lr=0.0)  # lr 0: the reference's weights stay too
    ref = run_reference(rule, x, y, hidden, weights, hook)
    assert_rel(h, ref.hidden, TOL, "hidden")
    G, dW_out, db_out = hook.grads  # the last step's
    assert_rel(captured[:N * M].view(N, M), G, TOL, "captured grad")
    assert_rel(captured[N * M:].view(O, N + 1), torch.cat([dW_out, db_out[:, None]], 1), TOL, "captured grad_out")


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_none_then_online_optimizer_step_sgd_equals_one_fused_sgd_step(l2):
    """The data-parallel split (capture, all-reduce, apply) must be the fused step: one step of each."""
    rule = rules.RFLO()
    x, y, hidden, weights = problem(3, seed=16)
    x, y = x[:1], y[:1]
    fused = [t.clone() for t in weights]
    run_op(rule, x, y, hidden.clone(), fused, rule_state(rule, 3), "sgd", l2=l2)

    split, captured = [t.clone() for t in weights], zero_state("none")
    run_op(rule, x, y, hidden.clone(), split, rule_state(rule, 3), "none", [], captured)
    ops.online_optimizer_step(*split, captured[:N * M].view(N, M).clone(), captured[N * M:].view(O, N + 1).clone(),
                              "sgd", LR, [], None, 0, l2)
    for a, b, name in zip(split, fused, NAMES):
        assert_rel(a, b, 1e-14, name)


def test_online_optimizer_step_adam_equals_torch_optim_adam():
    """Three steps on random gradients, L2 on the weights only (coupled, Adam's weight_decay)."""
    g = generator(17)
    weights = [randn(N, N, gen=g), randn(N, I, gen=g), randn(N, gen=g), randn(O, N, gen=g), randn(O, gen=g)]
    w, opt_state = [t.clone() for t in weights], zero_state("adam")
    hook = TorchOptim(weights, torch.optim.Adam, lr=0.01, l2=0.05, betas=(0.8, 0.9), eps=1e-7)
    for step in range(3):
        grad, grad_out = randn(N, M, gen=g), randn(O, N + 1, gen=g)
        want = hook(step, grad, grad_out[:, :N], grad_out[:, N], [p.detach() for p in hook.params])
        ops.online_optimizer_step(*w, grad, grad_out, "adam", 0.01, [0.8, 0.9, 1e-7], opt_state, step, 0.05)
        for a, b, name in zip(w, want, NAMES):
            assert_rel(a, b, TOL, f"step {step + 1} {name}")
    assert_rel(opt_state, hook.flat_state(SLOT_KEYS["adam"]), TOL, "optimizer_state")


# ----------------------------------------------------------------------------- bad arguments
def _bad_calls():
    """(id, keyword overrides of run_op, the error's pattern): each names the argument at fault."""
    return [
        ("unknown_name", dict(optimizer="rmsprop"), r"online_learn: expected optimizer to be one of .*'rmsprop'"),
        ("option_count", dict(optimizer="momentum", options=[0.9, 0.0], opt_state=zero_state("momentum")),
         r"optimizer 'momentum' expects optimizer_options = \[momentum, dampening, nesterov\], but got 2 values"),
        ("beta1_one", dict(optimizer="adam", options=[1.0, 0.99, 1e-8], opt_state=zero_state("adam")),
         r"optimizer_options' beta1 in \[0, 1\), but got 1"),
        ("nesterov_dampening", dict(optimizer="momentum", options=[0.9, 0.1, 1], opt_state=zero_state("momentum")),
         r"nesterov momentum requires momentum > 0 and dampening = 0"),
        ("state_size", dict(optimizer="adam", options=[0.9, 0.99, 1e-8], opt_state=zero_state("momentum")),
         r"optimizer_state"),
        ("state_none", dict(optimizer="adamw", options=[0.9, 0.99, 1e-8], opt_state=None),
         r"optimizer 'adamw' expects optimizer_state = .*but got None"),
        ("state_dtype", dict(optimizer="momentum", options=[0.9, 0.0, 0], opt_state=zero_state("momentum").float()),
         r"optimizer_state"),
        ("negative_schedule", dict(lr_schedule=torch.full((T,), -0.1, dtype=DT)),
         r"expected every value of lr_schedule to be a finite number >= 0"),
    ]


@pytest.mark.parametrize("overrides,pattern", [c[1:] for c in _bad_calls()], ids=[c[0] for c in _bad_calls()])
def test_bad_optimizer_arguments_raise_and_leave_everything_unchanged(overrides, pattern):
    rule = rules.RFLO()
    x, y, hidden, weights = problem(2, seed=18)
    h, w, state = hidden.clone(), [t.clone() for t in weights], rule_state(rule, 2)
    with pytest.raises(RuntimeError, match=pattern):
        run_op(rule, x, y, h, w, state, **overrides)
    assert torch.equal(h, hidden)
    for a, b, name in zip(w, weights, NAMES):
        assert torch.equal(a, b), f"a refused call moved {name}"
    assert not state[0].any(), "a refused call moved the trace"


def test_online_optimizer_step_refuses_none_and_leaves_the_weights():
    _, _, _, weights = problem(1, seed=19)
    w = [t.clone() for t in weights]
    with pytest.raises(RuntimeError, match=r"online_optimizer_step: expected optimizer .*but got 'none'"):
        ops.online_optimizer_step(*w, torch.ones(N, M, dtype=DT), torch.ones(O, N + 1, dtype=DT), "none", LR, [],
                                  zero_state("none"), 0, 0.0)
    for a, b, name in zip(w, weights, NAMES):
        assert torch.equal(a, b), name


def test_the_op_leaves_its_read_only_inputs_unchanged():
    """x, y and lr_schedule are read, never written, with an optimiser and a schedule."""
    rule = rules.RFLO()
    x, y, hidden, weights = problem(2, seed=20)
    lrs = torch.full((T,), 0.03, dtype=DT)
    x0, y0, lrs0 = x.clone(), y.clone(), lrs.clone()
    run_op(rule, x, y, hidden.clone(), [t.clone() for t in weights], rule_state(rule, 2), "adam", [0.9, 0.99, 1e-8],
           zero_state("adam"), l2=0.1, lr_schedule=lrs)
    assert torch.equal(x, x0) and torch.equal(y, y0) and torch.equal(lrs, lrs0)
