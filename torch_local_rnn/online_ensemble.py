"""OnlineEnsemble: E OnlineLearners trained as one, every chunk one call of the op online_learn_members
(docs/algorithms.md §2.10), whose members run in parallel on the CPU's threads.

    ens = OnlineLearner.stack([learner_1, learner_2, learner_3])
    losses = ens.fit(x, y, chunk_size=100)   # (T, E, B); x (T, B, I) shared or (T, E, B, I) one per member
    learners = ens.unstack()                 # E independent OnlineLearners, trained

The members share what the op shares (rule kind, sizes, nonlinearity, loss, optimiser kind, dtype, device) and
may differ in everything else: initial weights and state, generators, lr (a number or a callable), l2, alpha,
the rule's options and the optimiser's. Member e's weights, state, noise and losses are bitwise those of its
learner run alone: the op runs the same kernel on member e's views, and every chunk draws member e's noise from
member e's own generator state as OnlineLearner._run draws it.
"""
import copy
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import losses, ops, online_optim
from .rule_state import (RULE_IDENTITY, check_generator_state, decode_identity, draw_from_buffer, encode_identity,
                         undraw_buffer)
from .online import OnlineLearner

WHO = "OnlineEnsemble"
NETWORK = ("weight_hh", "weight_ih", "bias", "weight_out", "bias_out")  # the op's order


def _network(learner: OnlineLearner):
    """The five weight tensors the op updates: the rnn's and the nn.Linear readout's."""
    rnn, readout = learner.rnn, learner.readout
    return [t.detach() for t in (rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0, readout.weight, readout.bias)]


def _shared(learner: OnlineLearner) -> dict:
    """What every member must have in common (the op runs one rule, one set of sizes, ...), by name."""
    state = learner.rule_state()
    return {"rule": learner.rule.name, "input_size": learner.rnn.input_size, "hidden_size": learner.rnn.hidden_size,
            "output_size": learner.readout.out_features, "batch_size": learner.batch_size,
            "nonlinearity": learner.rnn.nonlinearity, "loss": learner.loss, "optimizer": learner.optimizer.name,
            "dtype": learner.hidden.dtype, "device": learner.hidden.device,
            "rule state": [(name, tuple(t.shape)) for name, t in state.items()],
            "feedback": None if learner.feedback is None else tuple(learner.feedback.shape),
            "number of rule options": len(learner.rule.online_options(learner.rnn.alpha)),
            "number of optimizer options": len(learner.optimizer.op_options())}


def _check_member(learner, e: int, first: dict) -> None:
    if not isinstance(learner, OnlineLearner):
        raise TypeError(f"{WHO}: expected learners[{e}] to be an OnlineLearner, but got {type(learner).__name__}")
    if learner.general is not None:
        raise ValueError(f"{WHO}: learners[{e}] runs the general path (a readout other than an nn.Linear with bias, "
                         f"or a callable loss); an ensemble runs the fused path only")
    if learner.sync is not None:
        raise ValueError(f"{WHO}: learners[{e}] has a process_group (data parallel); an ensemble runs in one process")
    mine = _shared(learner)
    for key, value in first.items():
        if mine[key] != value:
            raise ValueError(f"{WHO}: expected learners[{e}] to share the {key} of learners[0] ({value}), but got "
                             f"{mine[key]}; the members of an ensemble share the rule kind, sizes, nonlinearity, loss, "
                             f"optimizer kind, dtype and device")


class OnlineEnsemble(nn.Module):
    """E OnlineLearners stacked (``OnlineLearner.stack(learners)``): the buffers hold every member's weights and
    state on a leading member dimension E (``weight_hh`` (E, n, n), ``hidden`` (E, B, n), each rule state buffer
    (E, ...), ``rng_state`` (E, S), ``steps_done`` and ``optimizer_steps`` (E,), ...), so ``state_dict()`` saves
    them all and a run stopped and resumed equals one that never stopped. The learners are left as they were
    (stacking copies them); ``unstack()`` returns the trained members as new OnlineLearners."""

    def __init__(self, learners: Sequence[OnlineLearner]):
        super().__init__()
        if isinstance(learners, OnlineLearner) or not isinstance(learners, (list, tuple)) or not learners:
            raise TypeError(f"{WHO}: expected learners to be a non-empty list of OnlineLearners, but got "
                            f"{type(learners).__name__}")
        first = _shared(learners[0]) if isinstance(learners[0], OnlineLearner) else {}
        for e, learner in enumerate(learners):
            _check_member(learner, e, first)
        self._members = [copy.deepcopy(m) for m in learners]  # unstack's templates (not submodules: no state_dict)
        self._shared = first
        self._rules = [m.rule for m in learners]
        self._alphas = [float(m.rnn.alpha) for m in learners]
        self._lrs = [m.lr for m in learners]
        self._l2s = [float(m.l2) for m in learners]
        self._rule_options = [float(v) for m in learners for v in m.rule.online_options(m.rnn.alpha)]
        self._optimizer_options = [float(v) for m in learners for v in m.optimizer.op_options()]
        self._state_names = list(learners[0].rule_state())
        stack = lambda tensors: torch.stack([t.detach() for t in tensors]).clone()  # noqa: E731
        for k, name in enumerate(NETWORK):
            self.register_buffer(name, stack([_network(m)[k] for m in learners]))
        for name in ["hidden"] + self._state_names + ["rng_state", "steps_done", "optimizer_steps"]:
            self.register_buffer(name, stack([getattr(m, name) for m in learners]))
        for name in ("feedback", "optimizer_state"):  # None for every member, or a tensor for every member
            values = [getattr(m, name) for m in learners]
            self.register_buffer(name, None if values[0] is None else stack(values))

    @classmethod
    def stack(cls, learners: Sequence[OnlineLearner]) -> "OnlineEnsemble":
        """The ensemble of ``learners`` (OnlineLearner.stack)."""
        return cls(learners)

    @property
    def members(self) -> int:
        return len(self._members)

    def rule_state(self):
        """The stacked rule state buffers (E, ...), by name, in the op's order (OnlineLearner.rule_state)."""
        return {name: getattr(self, name) for name in self._state_names}

    # ------------------------------------------------------------------ inputs
    def _inputs(self, x: Tensor, y: Tensor, who: str):
        """x, y as (T, B, .) shared or (T, E, B, .) per member, the members' dtype and device; checked before
        anything changes."""
        E, s = self.members, self._shared
        for name, t in (("x", x), ("y", y)):
            if not isinstance(t, Tensor) or not t.is_floating_point():
                got = t.dtype if isinstance(t, Tensor) else type(t).__name__
                raise TypeError(f"{WHO}.{who}: expected {name} to be a floating-point tensor, but got {got}")
        if (x.dim() == 2) != (y.dim() == 2) or x.dim() not in (2, 3, 4) or y.dim() not in (2, 3, 4):
            raise ValueError(f"{WHO}.{who}: expected x (T, input_size) and y (T, output_size), or x and y each (T, B, "
                             f".) shared by the members or (T, members, B, .), but got shapes {list(x.shape)} and "
                             f"{list(y.shape)}")
        if x.dim() == 2:
            x, y = x.unsqueeze(1), y.unsqueeze(1)
        for name, t, size, what in (("x", x, s["input_size"], "input_size"), ("y", y, s["output_size"], "output_size")):
            want = [x.shape[0]] + ([E] if t.dim() == 4 else []) + [s["batch_size"], size]
            if list(t.shape) != want or t.shape[0] == 0:
                raise ValueError(f"{WHO}.{who}: expected {name} of shape {want} (T > 0, {'members, ' * (t.dim() == 4)}"
                                 f"batch_size, {what}), but got {list(t.shape)}")
        like = dict(dtype=s["dtype"], device=s["device"])
        return x.to(**like), y.to(**like)

    def _member_input(self, t: Tensor, e: int) -> Tensor:
        return t if t.dim() == 3 else t[:, e]

    # ------------------------------------------------------------------ training
    def fit(self, x: Tensor, y: Tensor, chunk_size: int = 10_000, progress: bool = False,
            lr_schedule: Optional[Tensor] = None, callback=None) -> Tensor:
        """Trains every member online on x, y (OnlineLearner.fit, one op call per chunk for all members); returns
        the per-step losses (T, E, B), or (T, E) for x (T, input_size). lr_schedule (T,): every member's per-step
        learning rate; callback(ensemble, info) after every chunk, info = {"start", "stop", "losses" (steps, E, B),
        "steps_done" (E,)}."""
        if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size <= 0:
            raise ValueError(f"{WHO}.fit: expected chunk_size to be a positive integer, but got {chunk_size}")
        if callback is not None and not callable(callback):
            raise TypeError(f"{WHO}.fit: expected callback to be callable(ensemble, info), but got "
                            f"{type(callback).__name__}")
        squeeze = isinstance(x, Tensor) and x.dim() == 2
        x, y = self._inputs(x, y, "fit")
        T = x.shape[0]
        schedule = online_optim.check_lr_schedule(lr_schedule, T, x, f"{WHO}.fit")
        out = torch.empty(T, self.members, self._shared["batch_size"], dtype=x.dtype)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=T, unit="step", desc=f"online {self._shared['rule']} x {self.members}")
        with torch.no_grad():
            for start in range(0, T, int(chunk_size)):
                stop = min(T, start + int(chunk_size))
                lrs = None if schedule is None else schedule[start:stop]
                out[start:stop] = self._run(x[start:stop], y[start:stop], lrs).cpu()
                if bar is not None:
                    bar.update(stop - start)
                if callback is not None:
                    callback(self, {"start": start, "stop": stop, "losses": out[start:stop],
                                    "steps_done": self.steps_done.clone()})
        if bar is not None:
            bar.close()
        return out[:, :, 0] if squeeze else out

    def lr_now(self) -> List[float]:
        """Every member's learning rate of the next chunk: lr, or lr(optimizer_steps) for a callable."""
        # tolist(): one device-to-host copy for all members, not one sync per member (E = 1024 on a GPU)
        return [online_optim.learning_rate_now(lr, int(steps), WHO)
                for lr, steps in zip(self._lrs, self.optimizer_steps.tolist())]

    def _draw_noise(self, e: int, steps: int, drawn: list) -> List[Tensor]:
        """Member e's noise for the chunk, from its own generator state, as OnlineLearner._run draws it."""
        rule, like = self._rules[e], dict(dtype=self.hidden.dtype, device=self.hidden.device)
        noise, *states = draw_from_buffer(self.rng_state[e], lambda g: rule.noise(
            steps, self._shared["batch_size"], self._shared["hidden_size"], g, **like))
        drawn.append((e, *states))
        return noise

    def _run(self, x: Tensor, y: Tensor, lr_schedule: Optional[Tensor] = None) -> Tensor:
        """One op call over the chunk for every member. A chunk that fails (the op checks every member before it
        writes) leaves every buffer as it was: the labels set before a first step and the generator states the
        noise was drawn from are put back."""
        labels_prev, drawn = {}, []
        label_name = self._rules[0].label_state
        try:
            if label_name is not None:  # y_prev := y_0 before a member's first step (docs/algorithms.md §1.1)
                label, done = getattr(self, label_name), self.steps_done.tolist()
                for e in range(self.members):
                    first = self._member_input(y, e)[0]
                    if done[e] == 0 and label[e].shape == first.shape:
                        labels_prev[e] = label[e].clone()
                        label[e].copy_(first)
            noise = []
            if self._rules[0].stochastic:
                per_member = [self._draw_noise(e, x.shape[0], drawn) for e in range(self.members)]
                noise = [torch.stack(tensors) for tensors in zip(*per_member)]
            s = self._shared
            step_losses = ops.online_learn_members(
                s["rule"], x, y, self.hidden, *(getattr(self, name) for name in NETWORK),
                [getattr(self, name) for name in self._state_names], None, self.feedback, self._alphas,
                s["nonlinearity"], s["loss"], self.lr_now(), self._rule_options, noise, None, self._l2s,
                s["optimizer"], self._optimizer_options, self.optimizer_state, self.optimizer_steps.tolist(),
                lr_schedule)
        except BaseException:
            for e, before, after in reversed(drawn):
                undraw_buffer(self.rng_state[e], before, after)
            for e, prev in labels_prev.items():
                getattr(self, label_name)[e].copy_(prev)
            raise
        self.steps_done += x.shape[0]
        self.optimizer_steps += x.shape[0]
        return step_losses

    def evaluate(self, x: Tensor, y: Tensor) -> Tensor:
        """Every member's per-step losses on x, y with learning off, from zeros (OnlineLearner.evaluate): (T, E, B),
        or (T, E) for x (T, input_size). The state is left untouched."""
        squeeze = isinstance(x, Tensor) and x.dim() == 2
        x, y = self._inputs(x, y, "evaluate")
        s, out = self._shared, []
        with torch.no_grad():
            for e in range(self.members):
                x_e = self._member_input(x, e)
                h0 = torch.zeros(x_e.shape[1], s["hidden_size"], dtype=x.dtype, device=x.device)
                a, _ = ops.leaky_rnn_forward(x_e, h0, self.weight_hh[e], self.weight_ih[e], self.bias[e],
                                             self._alphas[e], s["nonlinearity"])
                z = F.linear(a, self.weight_out[e], self.bias_out[e])  # what the learner's nn.Linear computes
                out.append(losses.per_step_loss(z, self._member_input(y, e), s["loss"]))
        step_losses = torch.stack(out, 1)
        return step_losses[:, :, 0] if squeeze else step_losses

    # ------------------------------------------------------------------ members
    def unstack(self) -> List[OnlineLearner]:
        """The members as E independent OnlineLearners (copies of the stacked learners with this ensemble's
        weights and state: clones, not views)."""
        learners = []
        with torch.no_grad():
            for e, template in enumerate(self._members):
                learner = copy.deepcopy(template)
                for target, name in zip(_network(learner), NETWORK):
                    target.copy_(getattr(self, name)[e])
                for name in ["hidden"] + self._state_names + ["rng_state", "steps_done", "optimizer_steps",
                                                                "feedback", "optimizer_state"]:
                    if getattr(learner, name) is not None:
                        getattr(learner, name).copy_(getattr(self, name)[e])
                learners.append(learner)
        return learners

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        # the rule the members' state belongs to, and every member's online options (member-major)
        destination[prefix + RULE_IDENTITY] = encode_identity(self._shared["rule"], self._rule_options)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        who = f"{WHO}.load_state_dict"
        if prefix + RULE_IDENTITY in state_dict:  # another rule's or other options' state is refused before any copy
            saved = decode_identity(state_dict[prefix + RULE_IDENTITY], who)
            mine = {"rule": self._shared["rule"], "options": [float(v) for v in self._rule_options]}
            if saved != mine:
                raise RuntimeError(f"{who}: the state_dict is the state of rule '{saved['rule']}' with member options "
                                   f"{saved['options']}, but this ensemble runs rule '{mine['rule']}' with "
                                   f"{mine['options']}; load it into an ensemble of those members")
        rng = state_dict.get(prefix + "rng_state")
        if isinstance(rng, Tensor) and rng.dim() == 2:  # before anything is copied: a refused state changes nothing
            for e in range(rng.shape[0]):
                check_generator_state(rng[e], f"{WHO}.load_state_dict", f"rng_state[{e}]")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        unexpected_keys[:] = [k for k in unexpected_keys if k != prefix + RULE_IDENTITY]


def _stack(learners: Sequence[OnlineLearner]) -> OnlineEnsemble:
    """E learners as one OnlineEnsemble (torch_local_rnn/online_ensemble.py, docs/algorithms.md §2.10): one op call
    per chunk trains them all; ``unstack()`` gives them back."""
    return OnlineEnsemble(learners)


OnlineLearner.stack = staticmethod(_stack)
