"""OnlineLearner: the papers' protocol (docs/algorithms.md §2.1), the whole time loop in C++.

Weights are updated after every time step, traces are carried across the updates, and the
readout, loss and SGD step are fused into the op. With B > 1 streams the update is the average
over the B independent streams; B = 1 reproduces the papers.
"""
import numbers
import warnings
from collections import OrderedDict
from typing import Optional

import torch
from torch import Tensor, nn

from . import losses, online_optim, ops, rules
from .activation import phi
from .online_distributed import RANK_RNG, DataParallelSync
from .online_general import GeneralReadout
from .modules import LocalRNN
from .online_network import check_online_network, fold_after_load
from .rule_state import (RULE_IDENTITY, check_generator_state, decode_identity, describe_identity, draw_from_buffer,
                         encode_identity, undraw_buffer)

# a_0 of every run (docs/algorithms.md §1.1): "zeros" (the latest code), "random" (a = phi(h), h ~ N(0, 1):
# the code of the 2019 and 2020 papers re-draws it at the start of every run).
INITIAL_STATES = ("zeros", "random")


class OnlineLearner(nn.Module):
    """Trains ``rnn`` and ``readout`` online.

        learner = OnlineLearner(rnn, readout, loss="cross_entropy", optimizer="sgd", lr=1e-4)
        history = learner.fit(x, y)   # per-step losses; weights updated in place

    An nn.Linear readout with a named loss ("cross_entropy", "mse", "mse_mean") runs the fused path: the whole
    step, readout and optimiser included, inside the op. Any other readout module (hidden_size -> anything) or
    a callable ``loss(output, target) -> (B,) per-stream losses`` runs the general path (docs/algorithms.md
    §2.8): per step, the rule's update in the op from the credit dL/da_t that autograd takes through the
    readout and loss, and the readout's own step by torch.optim.

    ``optimizer``: "sgd" (the papers'), "momentum", "adam" or "adamw", ``optimizer_options`` their
    hyper-parameters (online_optim.DEFAULTS: momentum, dampening, nesterov; betas, eps); applied after every
    step, its state in the buffers ``optimizer_state`` and ``optimizer_steps`` (docs/algorithms.md §2.7). ``lr``
    is a number or a callable lr(step) evaluated at the start of every chunk (step: the optimiser steps so
    far); ``fit(..., lr_schedule=...)`` gives every step its own. ``l2``: L2 on the weight matrices (AdamW:
    its decoupled weight decay).

    ``process_group`` (torch.distributed): data-parallel online learning (§2.9): every rank runs its own
    batch_size streams on shared weights, and every step's update is averaged over all ranks' streams (W
    ranks x B streams = one process with W B streams), or the weights every ``sync_every`` steps.

    ``rnn``: a one-layer, forward, bias=True LocalRNN; its bias_hh_l0 is folded into bias_ih_l0 (online_network).
    The rule is the rnn's (``LocalRNN(..., rule="rflo")``) unless ``rule`` is given here. Its state
    (the network state ``hidden`` and the rule's carried tensors, ``rules.<Rule>.online_state``: RFLO's
    ``trace``, RTRL's ``influence``, the truncated BPTTs' histories, the factored rules' factors, KeRNL's
    and DNI's learned auxiliary weights; a random ``feedback`` matrix if asked for; the state of the
    generator the stochastic rules draw from, ``rng_state``) are buffers: ``state_dict()`` saves them,
    and a run stopped and resumed equals one that never stopped. The state_dict also records the rule and
    its options (``rule_identity``): load_state_dict refuses the state of another rule or other options
    before it changes anything. A fit whose chunk fails leaves every buffer and parameter as it was.
    """

    def __init__(self, rnn: LocalRNN, readout: nn.Module, loss="cross_entropy", optimizer: str = "sgd",
                 lr: online_optim.LearningRate = 1e-4, rule: Optional[rules.Rule] = None, batch_size: int = 1,
                 generator: Optional[torch.Generator] = None, initial_state: str = "zeros", l2: float = 0.0,
                 optimizer_options: Optional[dict] = None, process_group=None, sync_every: int = 1):
        super().__init__()
        check_online_network(rnn)
        fused = isinstance(readout, nn.Linear) and readout.bias is not None and isinstance(loss, str)
        if not isinstance(readout, nn.Module):
            raise TypeError(f"OnlineLearner: expected readout to be an nn.Module (hidden_size -> outputs), but got "
                            f"{type(readout).__name__}")
        if isinstance(readout, nn.Linear) and readout.in_features != rnn.hidden_size:
            raise ValueError(f"OnlineLearner: expected readout.in_features == rnn.hidden_size "
                             f"({rnn.hidden_size}), but got {readout.in_features}")
        self.optimizer = online_optim.parse_optimizer(optimizer, optimizer_options, "OnlineLearner")
        if callable(lr):
            online_optim.learning_rate_now(lr, 0, "OnlineLearner")  # fails now, not at the first chunk
        else:
            lr = online_optim.finite_nonnegative("OnlineLearner", "lr", lr)
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"OnlineLearner: expected batch_size to be a positive integer, but got "
                            f"{type(batch_size).__name__} {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"OnlineLearner: expected batch_size > 0, but got {batch_size}")
        batch_size = int(batch_size)
        self.l2 = online_optim.finite_nonnegative("OnlineLearner", "l2", l2)
        if initial_state not in INITIAL_STATES:
            raise ValueError(f"OnlineLearner: expected initial_state in {INITIAL_STATES}, but got {initial_state!r}")
        self.initial_state = initial_state
        self.rnn, self.readout = rnn, readout
        self.register_load_state_dict_post_hook(fold_after_load)  # a loaded bias_hh_l0 is folded too
        self.loss = losses.check_loss(loss, "OnlineLearner") if isinstance(loss, str) else loss
        if not isinstance(loss, str) and not callable(loss):
            raise TypeError(f"OnlineLearner: expected loss to be one of {list(losses.LOSSES)} or a callable "
                            f"loss(output, target) -> per-stream losses (B,), but got {type(loss).__name__}")
        self.lr = lr
        self.rule = rules.resolve(rnn.rule if rule is None else rule)
        if not self.rule.has_online_form:
            online = sorted(name for name, cls in rules.RULES.items() if cls.has_online_form)
            raise ValueError(f"OnlineLearner: rule '{self.rule.name}' has no online form; rules with one: {online}")
        self.rule.check(rnn.alpha, "online", "OnlineLearner")
        like = dict(dtype=rnn.weight_hh_l0.dtype, device=rnn.weight_hh_l0.device)
        # the general path (docs/algorithms.md §2.8): the op sees a stand-in readout of one output, never read
        self.general = None if fused else GeneralReadout(self, generator)
        n, i = rnn.hidden_size, rnn.input_size
        o = readout.out_features if fused else 1
        self._op_outputs = o
        self.register_buffer("hidden", torch.zeros(batch_size, n, **like))
        fb = getattr(self.rule, "feedback", "symmetric")
        if isinstance(fb, str) and fb == "random":  # W_FB ~ N(0, 1/n_out), fixed (docs/algorithms.md §1.1)
            fb = (torch.randn(o, n, generator=generator, dtype=torch.float64) / o ** 0.5).to(**like)
        # The rule's random initial state and its per-step noise come from a generator of the learner's own,
        # seeded from ``generator`` (or the global one); its state is the buffer rng_state (saved and
        # restored with state_dict), so a resumed run draws the same noise as one that never stopped.
        self._generator = torch.Generator()
        # deterministic rules starting from zeros leave the generators alone
        draws = self.rule.stochastic or self.rule.random_init or initial_state == "random"
        self._generator.manual_seed(int(torch.randint(0, 2 ** 62, (1,), generator=generator)) if draws else 0)
        self._state_names = []
        self.hidden.copy_(self._start_state(self._generator))
        initial = self.rule.online_state(batch_size, n, i, outputs=o, generator=self._generator,
                                         weight_hh=rnn.weight_hh_l0, start=self.hidden,
                                         random_state=lambda g: self._random_state(g), **like)
        for name, value in initial.items():
            self.register_buffer(name, value)
            self._state_names.append(name)
        self.register_buffer("rng_state", self._generator.get_state())
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.int64))
        if isinstance(fb, Tensor):
            if tuple(fb.shape) != (o, n):
                raise ValueError(f"OnlineLearner: expected the feedback matrix of shape (output_size, hidden_size) = "
                                 f"{(o, n)}, but got {tuple(fb.shape)}")
            fb = fb.detach().clone().to(**like)
        elif isinstance(fb, str):
            fb = None
        self.register_buffer("feedback", fb)
        numel = ops.optimizer_state_numel(self.optimizer.name, n, i, o)
        self.register_buffer("optimizer_state", torch.zeros(numel, **like) if numel else None)
        self.register_buffer("optimizer_steps", torch.zeros((), dtype=torch.int64))
        if self.general is not None:
            self.general.check(fb)
        self.sync = None if process_group is None else DataParallelSync(self, process_group, sync_every)

    @property
    def batch_size(self) -> int:
        return self.hidden.shape[0]

    def rule_state(self) -> "OrderedDict[str, Tensor]":
        """The tensors the rule carries across online steps, by buffer name, in the order the online op reads
        them: the buffers of ``rules.<Rule>.online_state`` (RFLO's ``trace``, RTRL's ``influence``, the
        truncated BPTTs' histories, the factored rules' ``factor_a`` / ``factor_b``, KeRNL's ``kernl_*``,
        DNI's ``sg_*`` and ``eligibility``, ...); empty for output_only. The values are the live buffers, not
        copies: clone them to keep a snapshot, and change them only to set the learner's state. The network
        state (``hidden``), the feedback matrix and ``rng_state`` are not part of it."""
        return OrderedDict((name, getattr(self, name)) for name in self._state_names)

    def reset_state(self) -> None:
        """A new run: network state back to its start (zeros, or a fresh random state with
        initial_state="random"), traces to theirs (zero; the factored rules' random factors re-drawn,
        as the papers' reset_learning does); weights and what the rule has learned (KeRNL's A and
        rates, DNI's apical weights and W_a) kept."""
        def draw(g):
            self.hidden.copy_(self._start_state(g))
            return self.rule.online_state(
                self.batch_size, self.rnn.hidden_size, self.rnn.input_size, outputs=self._op_outputs,
                generator=g, weight_hh=self.rnn.weight_hh_l0, start=self.hidden,
                random_state=lambda g2: self._random_state(g2), dtype=self.hidden.dtype, device=self.hidden.device)

        fresh = self._with_generator(draw)
        for name in self._state_names:
            if name not in self.rule.learned_state:
                getattr(self, name).copy_(fresh[name])
        self.steps_done.zero_()

    def _random_state(self, g: torch.Generator) -> Tensor:
        """a = phi(h), h ~ N(0, 1) per unit and stream: the 2019/2020 code's reset (docs/algorithms.md §1.1)."""
        h = torch.randn(self.hidden.shape, generator=g, dtype=torch.float64)
        return phi(h, self.rnn.nonlinearity).to(dtype=self.hidden.dtype, device=self.hidden.device)

    def _start_state(self, g: torch.Generator) -> Tensor:
        """a_0 of a run: zeros (the latest code) or a fresh random state (the papers' code, every run)."""
        if self.initial_state == "random":
            return self._random_state(g)
        return torch.zeros_like(self.hidden)

    def _with_generator(self, draw):
        """Runs draw(generator) from the state in rng_state and stores the advanced state back, as one atomic
        step (rule_state.RNG_LOCK: threads sharing the learner draw disjoint values)."""
        return draw_from_buffer(self.rng_state, draw)[0]

    # ------------------------------------------------------------------ state_dict: the rule's identity
    def _identity(self) -> dict:
        return {"rule": self.rule.name, "options": [float(v) for v in self.rule.online_options(self.rnn.alpha)]}

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        identity = self._identity()  # every buffer of the learner is the state of this rule with these options
        destination[prefix + RULE_IDENTITY] = encode_identity(identity["rule"], identity["options"])
        if self.sync is not None:  # a collective: every rank's streams, so rank 0's checkpoint resumes all ranks
            self.sync.gather_streams(destination, prefix)

    def check_state_dict(self, state_dict, prefix: str = "") -> None:
        """What load_state_dict checks before it changes anything: the state_dict is of this rule with these
        online options (its rule_identity entry; a state_dict without one, from before it was saved, loads with
        a warning), its generator state is valid, and the network's entries pass LocalRNN.check_state_dict."""
        who = "OnlineLearner.load_state_dict"
        if prefix + RULE_IDENTITY in state_dict:
            saved, mine = decode_identity(state_dict[prefix + RULE_IDENTITY], who), self._identity()
            if saved != mine:
                raise RuntimeError(f"{who}: the state_dict is the state of rule {describe_identity(saved)}, but this "
                                   f"learner runs rule {describe_identity(mine)}; load it into an OnlineLearner of "
                                   f"that rule with those options")
        else:
            warnings.warn(f"{who}: the state_dict has no {RULE_IDENTITY} entry (saved before learners recorded "
                          f"their rule): it is loaded as the state of rule '{self.rule.name}' unchecked",
                          stacklevel=4)
        if prefix + "rng_state" in state_dict:
            check_generator_state(state_dict[prefix + "rng_state"], who)
        self.rnn.check_state_dict(state_dict, prefix + "rnn.")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        if self.sync is not None:  # this rank's streams of a gathered checkpoint
            state_dict = self.sync.local_streams(state_dict, prefix)
        self.check_state_dict(state_dict, prefix)  # before anything is copied: a refused state changes nothing
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        unexpected_keys[:] = [k for k in unexpected_keys if k not in (prefix + RULE_IDENTITY, prefix + RANK_RNG)]

    def _pair(self, x: Tensor, y: Tensor, who: str):
        """Checks x, y (nothing has been changed yet when this fails) and returns them as
        (T, B, .) tensors of the learner's dtype and device."""
        if self.general is not None:
            return self.general.pair(x, y, who)
        for name, t in (("x", x), ("y", y)):
            if not isinstance(t, Tensor) or not t.is_floating_point():
                got = t.dtype if isinstance(t, Tensor) else type(t).__name__
                raise TypeError(f"OnlineLearner.{who}: expected {name} to be a floating-point tensor, but got {got}")
        if x.dim() != y.dim() or x.dim() not in (2, 3):
            raise ValueError(f"OnlineLearner.{who}: expected x (T, input_size) and y (T, output_size), or x (T, B, "
                             f"input_size) and y (T, B, output_size), but got shapes {list(x.shape)} and {list(y.shape)}")
        if x.dim() == 2:
            x, y = x.unsqueeze(1), y.unsqueeze(1)
        if x.shape[:2] != y.shape[:2]:
            raise ValueError(f"OnlineLearner.{who}: expected x and y to have the same (T, B) = {tuple(x.shape[:2])}, "
                             f"but got y of shape {list(y.shape)}")
        if x.shape[0] == 0:
            raise ValueError(f"OnlineLearner.{who}: expected a non-empty sequence (T > 0), but got x of shape "
                             f"{list(x.shape)}")
        if x.shape[2] != self.rnn.input_size:
            raise ValueError(f"OnlineLearner.{who}: expected x with input_size = {self.rnn.input_size} features, but "
                             f"got shape {list(x.shape)}")
        if y.shape[2] != self.readout.out_features:
            raise ValueError(f"OnlineLearner.{who}: expected y with output_size = {self.readout.out_features} "
                             f"(readout.out_features) features, but got shape {list(y.shape)}")
        like = dict(dtype=self.hidden.dtype, device=self.hidden.device)
        return x.to(**like), y.to(**like)

    def _streams(self, x: Tensor, y: Tensor):
        x, y = self._pair(x, y, "fit")
        if x.shape[1] != self.batch_size:
            raise ValueError(f"OnlineLearner: expected {self.batch_size} streams (batch_size), but got x of shape "
                             f"{list(x.shape)}")
        return x, y

    def fit(self, x: Tensor, y: Tensor, chunk_size: int = 10_000, progress: bool = False, record: bool = False,
            lr_schedule: Optional[Tensor] = None, callback=None):
        """Trains online on the streams x, y; returns the per-step losses ((T,) or (T, B)).

        lr_schedule: a (T,) tensor of per-step learning rates (in place of lr). callback(learner, info) runs after
        every chunk, info = {"start", "stop" (the chunk's steps in this call), "losses" (the chunk's, (steps, B)),
        "steps_done"} — a hook for users' own loggers.

        record=True (dni, dni_b) also returns a dict of the per-step compartment signals, each (T, [B,] n):
        "apical" U_t (the credit estimate used in the update), "target" U*_{t-1} (the bootstrapped
        target of the previous step), "prediction" U_{t-1} (the previous step's potential as the
        apical weights predict it before their update) and "basal" V_t = h_t (the forward drive):
        (losses, records)."""
        if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size <= 0:
            raise ValueError(f"OnlineLearner.fit: expected chunk_size to be a positive integer, but got {chunk_size}")
        chunk_size = int(chunk_size)
        if record and not self.rule.records:
            raise ValueError(f"OnlineLearner.fit: only rules 'dni' and 'dni_b' record apical signals, but the rule "
                             f"is '{self.rule.name}'")
        if record and (self.general is not None or self.sync is not None):
            raise ValueError("OnlineLearner.fit: record=True needs the fused path in one process (an nn.Linear "
                             "readout, a named loss, no process_group)")
        if callback is not None and not callable(callback):
            raise TypeError(f"OnlineLearner.fit: expected callback to be callable(learner, info), but got "
                            f"{type(callback).__name__}")
        squeeze = isinstance(x, Tensor) and x.dim() == 2  # not a tensor: _streams says so
        x, y = self._streams(x, y)
        T = x.shape[0]
        schedule = online_optim.check_lr_schedule(lr_schedule, T, x, "OnlineLearner.fit")
        out = torch.empty(T, self.batch_size, dtype=x.dtype)
        records = torch.empty(T, self.batch_size, 4, self.rnn.hidden_size, dtype=x.dtype) if record else None
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=T, unit="step", desc=f"online {self.rule.name}")
        with torch.no_grad():
            for start in range(0, T, chunk_size):
                stop = min(T, start + chunk_size)
                rec = records[start:stop].to(x.device) if record else None
                lrs = None if schedule is None else schedule[start:stop]
                step_losses = self._run_chunk(x[start:stop], y[start:stop], rec, lrs)
                out[start:stop] = step_losses.cpu()
                if record:
                    records[start:stop] = rec.cpu()
                if bar is not None:
                    bar.update(stop - start)
                    bar.set_postfix(loss=f"{step_losses.mean().item():.4f}")
                if callback is not None:
                    callback(self, {"start": start, "stop": stop, "losses": out[start:stop],
                                    "steps_done": int(self.steps_done)})
        if bar is not None:
            bar.close()
        losses_out = out[:, 0] if squeeze else out
        if not record:
            return losses_out
        names = ("apical", "target", "prediction", "basal")
        signals = {k: (records[:, :, j, :][:, 0] if squeeze else records[:, :, j, :]) for j, k in enumerate(names)}
        return losses_out, signals

    def lr_now(self) -> float:
        """The learning rate of the next chunk: lr, or lr(optimizer_steps) for a callable."""
        return online_optim.learning_rate_now(self.lr, int(self.optimizer_steps), "OnlineLearner")

    def _run_chunk(self, x: Tensor, y: Tensor, record: Optional[Tensor], lrs: Optional[Tensor]) -> Tensor:
        if self.sync is not None:
            return self.sync.run(x, y, lrs)
        if self.general is not None:
            return self.general.run(x, y, lrs)
        return self._run(x, y, record, lr_schedule=lrs)

    def op_weights(self):
        """The five tensors online_learn updates: W_hh, W_ih, b (bias_ih_l0; bias_hh_l0 stays 0: online_network),
        and the readout's W_out, b_out (the general path: a stand-in the op leaves alone)."""
        rnn = self.rnn
        readout = (self.readout.weight.detach(), self.readout.bias.detach()) if self.general is None \
            else self.general.stand_in()
        return (rnn.weight_hh_l0.detach(), rnn.weight_ih_l0.detach(), rnn.bias_ih_l0.detach()) + tuple(readout)

    def _run(self, x: Tensor, y: Tensor, record: Optional[Tensor] = None, lr_schedule: Optional[Tensor] = None,
             optimizer: Optional[str] = None, optimizer_state: Optional[Tensor] = None,
             credit: Optional[Tensor] = None) -> Tensor:
        """One op call over the chunk x, y with the learner's state. optimizer / optimizer_state override the
        learner's (the data-parallel form's "none": capture the step's gradients); credit: the general path's."""
        rnn = self.rnn
        weights = self.op_weights()
        state = [getattr(self, name) for name in self._state_names]
        # A chunk that fails (the op checks everything before it writes) leaves every buffer as it was: the
        # label set before the first step and the generator state the noise was drawn from are put back.
        label_prev, drawn, noise = None, None, []
        name = self.optimizer.name if optimizer is None else optimizer
        try:
            label = getattr(self, self.rule.label_state) if self.rule.label_state is not None else None
            # y_prev := y_0 before the first step (docs/algorithms.md §1.1); a buffer of another shape is left
            # for the op to refuse with its own message
            if label is not None and int(self.steps_done) == 0 and label.shape == y[0].shape:
                label_prev = label.clone()
                label.copy_(y[0])
            if self.rule.stochastic:
                noise, *drawn = draw_from_buffer(self.rng_state, lambda g: self.rule.noise(
                    x.shape[0], x.shape[1], rnn.hidden_size, g, dtype=x.dtype, device=x.device))
            step_losses = ops.online_learn(
                self.rule.name, x, y, self.hidden, *weights, state, None, self.feedback, rnn.alpha, rnn.nonlinearity,
                self.loss if isinstance(self.loss, str) else "mse", self.lr_now(),
                self.rule.online_options(rnn.alpha), noise, record, self.l2, name,
                self.optimizer.op_options() if optimizer is None else [],
                self.optimizer_state if optimizer_state is None else optimizer_state, int(self.optimizer_steps),
                lr_schedule, credit)
        except BaseException:
            if drawn is not None:
                undraw_buffer(self.rng_state, *drawn)
            if label_prev is not None:
                getattr(self, self.rule.label_state).copy_(label_prev)
            raise
        self.steps_done += x.shape[0]
        if name != "none":
            self.optimizer_steps += x.shape[0]
        return step_losses

    def evaluate(self, x: Tensor, y: Tensor, hidden: Optional[Tensor] = None) -> Tensor:
        """Per-step losses on x, y with learning off, from ``hidden`` (default zeros); leaves the
        learner's own state untouched."""
        squeeze = isinstance(x, Tensor) and x.dim() == 2  # not a tensor: _pair says so
        x, y = self._pair(x, y, "evaluate")
        like = dict(dtype=self.hidden.dtype, device=self.hidden.device)
        h0 = torch.zeros(x.shape[1], self.rnn.hidden_size, **like) if hidden is None else hidden.to(**like)
        with torch.no_grad():
            rnn = self.rnn
            a, _ = ops.leaky_rnn_forward(x, h0, rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0,
                                         rnn.alpha, rnn.nonlinearity)
            if self.general is None:
                step_losses = losses.per_step_loss(self.readout(a), y, self.loss)
            else:
                step_losses = torch.stack([self.general.stream_losses(a[t], y[t]) for t in range(a.shape[0])])
        return step_losses[:, 0] if squeeze else step_losses
