"""The configuration of an experiment, validated when it is made: CompareConfig (``compare``: every rule on a
task, over seeds) and AlignConfig (``align``: gradient alignment with exact BPTT), and how a rule config or a
task is built from a name and options."""
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from torch import Tensor

from .. import rules
from ..tasks import TASKS, Task, make_task
from .variants import split_variant

# Defaults per mode: sequence = windows of B parallel streams with Adam; online = the papers'
# protocol (per-step SGD, one stream).
DEFAULTS = {
    "sequence": dict(steps=100_000, batch=32, lr=1e-3),
    "online": dict(steps=1_000_000, batch=1, lr=1e-3),
}

# The network's state at the start of training (online mode) and of every test stream: zeros (the latest code) or
# a = phi(h), h ~ N(0, 1) per unit and stream (the papers' code, docs/algorithms.md §1.1).
START_STATES = ("zeros", "random")

# Where compare's runs execute: "local" in a process pool of this machine, "ray" as Ray tasks.
BACKENDS = ("local", "ray")

ADD_SHORTCUTS = ("t1", "t2", "tau", "deterministic")

DEFAULT_RULES = ("rflo", "uoro", "kf_rtrl", "rkf_rtrl", "kernl", "rtrl", "f_bptt", "e_bptt", "dni_b")


def build_rule(name: str, options: Optional[Dict[str, Any]] = None):
    """The rule config ``name`` with ``options`` (its dataclass fields); clear errors otherwise."""
    if name not in rules.RULES:
        raise ValueError(f"expected rules from {sorted(rules.RULES)}, but got '{name}'")
    cls = rules.RULES[name]
    options = dict(options or {})
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"rule '{name}' ({cls.__name__}) has options {allowed}, but got {unknown}")
    try:
        return cls(**options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"rule option of '{name}': {error}") from error


def build_task(name: str, options: Optional[Dict[str, Any]] = None) -> Task:
    """The task ``name`` of TASKS built with ``options``; the option ``difficulty`` picks the JMLR
    family (AddTask.difficulty, MimicTask.difficulty, docs/algorithms.md §6.3)."""
    options = dict(options or {})
    if name not in TASKS:
        raise ValueError(f"expected a task from {sorted(TASKS)}, but got '{name}'")
    if "difficulty" in options:
        d = options.pop("difficulty")
        family = getattr(TASKS[name], "difficulty", None)
        if family is None:
            raise ValueError(f"task '{name}' has no difficulty family (add and mimic have one)")
        return family(d, **options)
    return make_task(name, **options)


def rule_fields(cfg) -> Dict[str, Any]:
    """A rule config's options as JSON values (a tensor option by its shape only)."""
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        out[f.name] = f"tensor{list(v.shape)}" if isinstance(v, Tensor) else v
    return out


def _normalise(value):
    """As it reads back from JSON (tuples -> lists)."""
    return json.loads(json.dumps(value))


# ---------------------------------------------------------------------------- compare
@dataclass
class CompareConfig:
    """Everything a compare run depends on (``python -m torch_local_rnn compare --help``).

    ``t1``, ``t2``, ``tau``, ``deterministic`` are shortcuts for options of the add task (None: the
    task's default). ``seed`` is the first seed, ``seeds`` how many (seed, seed + 1, ...). ``jobs``,
    ``threads``, ``checkpoint_every``, ``backend``, ``address`` and ``stack`` change how the runs are executed,
    never their results (``stack``: online mode trains a rule's seeds as one ensemble, one op call per chunk); ``backend`` "local" runs them in processes of this machine, "ray" as Ray tasks, on a local
    Ray started on demand or on the cluster at ``address``."""

    mode: str = "sequence"
    rules: Tuple[str, ...] = ("bptt", "rflo")
    task: str = "add"
    task_options: Dict[str, Any] = field(default_factory=dict)
    t1: Optional[int] = None
    t2: Optional[int] = None
    tau: Optional[int] = None
    deterministic: Optional[bool] = None
    rule_options: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    hidden: int = 32
    alpha: float = 1.0
    nonlinearity: str = "tanh"
    steps: int = DEFAULTS["sequence"]["steps"]  # per stream
    batch: int = DEFAULTS["sequence"]["batch"]
    window: int = 50
    lr: float = DEFAULTS["sequence"]["lr"]
    l2: float = 0.0  # L2 on the weight matrices: OnlineLearner's l2 (online), Adam's weight_decay (sequence)
    initial_state: str = "zeros"  # START_STATES; online mode only
    test_state: str = "zeros"  # START_STATES: where every test stream starts
    stop_below: Optional[float] = None  # stop a run at the first test evaluation below this loss (2019 protocol)
    preset: Optional[str] = None  # the name of the preset it was made from (experiments.presets), for the record
    seed: int = 0
    seeds: int = 1
    test_steps: int = 10_000
    test_streams: int = 8
    eval_every: Optional[int] = None  # steps per stream; None: about 25 points per curve
    threads: Optional[int] = 1
    jobs: Optional[int] = None  # None: min(cpu count, runs to do)
    checkpoint_every: Optional[int] = None
    backend: str = "local"
    address: Optional[str] = None  # a Ray cluster's address (backend "ray" only); None: a local Ray
    stack: bool = True  # online mode: a rule's seeds train as one OnlineEnsemble (train_stack.py; same results)

    def __post_init__(self):
        if self.mode not in DEFAULTS:
            raise ValueError(f"compare: expected mode 'sequence' or 'online', but got '{self.mode}'")
        if self.backend not in BACKENDS:
            raise ValueError(f"compare: expected backend (--backend) from {list(BACKENDS)}, but got '{self.backend}'")
        if self.address is not None and self.backend != "ray":
            raise ValueError(f"compare: --address ({self.address!r}) is the address of a Ray cluster and needs "
                             f"--backend ray, but got --backend {self.backend}")
        self.rules = tuple(self.rules)
        if not self.rules:
            raise ValueError("compare: expected at least one rule")
        for rule in self.rules:
            try:
                base = split_variant(rule)[0]
            except ValueError as error:
                raise ValueError(f"compare: {error}") from None
            if base not in rules.RULES:
                raise ValueError(f"compare: expected rules from {sorted(rules.RULES)} (or variants RULE@KEY=VALUE), "
                                 f"but got '{rule}'")
        if len(set(self.rules)) != len(self.rules):
            raise ValueError(f"compare: expected each rule once, but got {list(self.rules)}")
        bases = {split_variant(rule)[0] for rule in self.rules}
        for rule in self.rule_options:
            if rule not in self.rules and rule not in bases:
                raise ValueError(f"compare: rule options given for '{rule}', which is not among the rules "
                                 f"{list(self.rules)}")
        try:
            for rule in self.rules:
                self.rule_config(rule)
            self.task_object = self._build_task()
        except ValueError as error:
            raise ValueError(f"compare: {error}") from error
        positive = dict(steps=self.steps, batch=self.batch, window=self.window, hidden=self.hidden,
                        test_steps=self.test_steps, test_streams=self.test_streams, seeds=self.seeds)
        for name in ("eval_every", "jobs", "checkpoint_every"):
            if getattr(self, name) is not None:
                positive[name] = getattr(self, name)
        for name, value in positive.items():
            if int(value) < 1:
                raise ValueError(f"compare: expected {name} >= 1, but got {value}")
        if not self.lr > 0:
            raise ValueError(f"compare: expected lr > 0, but got {self.lr}")
        if isinstance(self.l2, bool) or not isinstance(self.l2, (int, float)) or not 0 <= self.l2 < float("inf"):
            raise ValueError(f"compare: expected l2 (--l2) to be a finite number >= 0, but got {self.l2!r}")
        for name in ("initial_state", "test_state"):
            if getattr(self, name) not in START_STATES:
                raise ValueError(f"compare: expected {name} (--{name.replace('_', '-')}) from {list(START_STATES)}, "
                                 f"but got {getattr(self, name)!r}")
        if self.initial_state != "zeros" and self.mode != "online":
            raise ValueError(f"compare: initial_state {self.initial_state!r} is for --mode online (sequence mode "
                             f"starts every stream from zeros and carries the state across windows)")
        if self.stop_below is not None and (isinstance(self.stop_below, bool)
                                            or not isinstance(self.stop_below, (int, float))
                                            or self.stop_below != self.stop_below):
            raise ValueError(f"compare: expected stop_below (--stop-below) to be a number, but got {self.stop_below!r}")
        if int(self.seed) < 0:
            raise ValueError(f"compare: expected seed >= 0, but got {self.seed}")

    # -- task, rules, seeds
    def effective_task_options(self) -> Dict[str, Any]:
        options = dict(self.task_options)
        shortcuts = {k: getattr(self, k) for k in ADD_SHORTCUTS if getattr(self, k) is not None}
        if shortcuts and self.task != "add":
            raise ValueError(f"{sorted(shortcuts)} are options of the add task; for '{self.task}' use "
                             f"--task-option KEY=VALUE")
        for k, v in shortcuts.items():
            if k in options and options[k] != v:
                raise ValueError(f"task option {k} given twice ({options[k]!r} and {v!r})")
            options[k] = v
        return dict(sorted(options.items()))

    def _build_task(self) -> Task:
        return build_task(self.task, self.effective_task_options())

    def task_instance(self) -> Task:
        return self.task_object

    def rule_config(self, rule: str):
        """The config of ``rule``: a rule name, or a variant RULE@KEY=VALUE... (variants.py), whose options
        override those given for its rule, which override the defaults."""
        base, fixed = split_variant(rule)
        options = dict(self.rule_options.get(base, {}))
        if rule != base:
            options.update(self.rule_options.get(rule, {}), **fixed)
        return build_rule(base, options)

    @property
    def seed_list(self) -> List[int]:
        return list(range(int(self.seed), int(self.seed) + int(self.seeds)))

    @staticmethod
    def data_seed(seed: int) -> int:
        return 2 * seed

    @staticmethod
    def test_seed(seed: int) -> int:
        return 2 * seed + 1

    @property
    def interval(self) -> int:
        """Steps per stream between test evaluations (a multiple of the window in sequence mode)."""
        unit = self.window if self.mode == "sequence" else 1
        every = self.eval_every if self.eval_every is not None else max(1, self.steps // 25)
        return max(unit, -(-int(every) // unit) * unit)

    def as_dict(self) -> Dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["task_options"] = self.effective_task_options()
        d["rule_options"] = {r: rule_fields(self.rule_config(r)) for r in self.rules}
        return _normalise(d)

    def identity(self, rule: str, seed: int) -> Dict[str, Any]:
        """What the result of run (rule, seed) depends on (checked against the run files)."""
        return _normalise({
            "mode": self.mode, "task": self.task, "task_options": self.effective_task_options(),
            "rule": rule, "rule_options": rule_fields(self.rule_config(rule)), "seed": int(seed),
            "hidden": self.hidden, "alpha": float(self.alpha), "nonlinearity": self.nonlinearity,
            "steps": self.steps, "batch": self.batch, "window": self.window if self.mode == "sequence" else None,
            "lr": float(self.lr), "test_steps": self.test_steps, "test_streams": self.test_streams,
            "interval": self.interval, **self._protocol()})

    def _protocol(self) -> Dict[str, Any]:
        """The 2019 protocol's settings where they differ from the defaults: run files written before these
        options existed keep their identity."""
        out: Dict[str, Any] = {}
        if self.l2:
            out["l2"] = float(self.l2)
        for name in ("initial_state", "test_state"):
            if getattr(self, name) != "zeros":
                out[name] = getattr(self, name)
        if self.stop_below is not None:
            out["stop_below"] = float(self.stop_below)
        return out

    def describe(self) -> str:
        net = f"n={self.hidden}, alpha={self.alpha:g}, {self.nonlinearity}"
        if self.mode == "sequence":
            how = (f"{self.batch} streams x {self.steps:,} steps, windows of {self.window}, "
                   f"Adam lr {self.lr:g}")
        else:
            how = (f"online, {self.batch} stream{'s' if self.batch > 1 else ''} x {self.steps:,} steps, "
                   f"SGD lr {self.lr:g} every step")
        extra = self._protocol()
        if extra:
            how += ", " + ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in extra.items())
        seeds = self.seed_list
        which = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
        return f"{self.task_instance()!r}, {net}; {how}; {which}"


# ---------------------------------------------------------------------------- align
@dataclass
class AlignConfig:
    """Everything an align run depends on (``python -m torch_local_rnn align --help``)."""

    task: str = "add"
    task_options: Dict[str, Any] = field(default_factory=dict)
    rules: Tuple[str, ...] = DEFAULT_RULES
    rule_options: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    train_rule: str = "rtrl"
    hidden: int = 32
    alpha: float = 1.0
    nonlinearity: str = "tanh"
    steps: int = 100_000
    points: int = 21
    window: int = 50
    lr: float = 1e-3
    batch: int = 1
    seed: int = 0
    units: int = 4
    threads: Optional[int] = 1

    def __post_init__(self):
        self.rules = tuple(self.rules)
        if not self.rules:
            raise ValueError("align: expected at least one rule")
        for rule in self.rules + (self.train_rule,):
            if rule not in rules.RULES:
                raise ValueError(f"align: expected rules from {sorted(rules.RULES)}, but got '{rule}'")
        if len(set(self.rules)) != len(self.rules):
            raise ValueError(f"align: expected each rule once, but got {list(self.rules)}")
        for rule in self.rule_options:
            if rule not in self.rules + (self.train_rule,):
                raise ValueError(f"align: rule options given for '{rule}', which is neither among the rules "
                                 f"{list(self.rules)} nor the train rule")
        try:
            for rule in self.rules + (self.train_rule,):
                self.rule_config(rule)
            self.task_object = build_task(self.task, self.task_options)
        except ValueError as error:
            raise ValueError(f"align: {error}") from error
        if not self.rule_config(self.train_rule).has_online_form:
            online = sorted(n for n, c in rules.RULES.items() if c.has_online_form)
            raise ValueError(f"align: the train rule '{self.train_rule}' has no online form (BPTT needs the future "
                             f"of the stream); use one of {online}, e.g. rtrl (exact) or f_bptt")
        checks = dict(hidden=(self.hidden, 1), points=(self.points, 1), window=(self.window, 2),
                      batch=(self.batch, 1), units=(self.units, 1), steps=(self.steps, 0), seed=(self.seed, 0))
        for name, (value, low) in checks.items():
            if int(value) < low:
                raise ValueError(f"align: expected {name} >= {low}, but got {value}")
        if not self.lr >= 0:
            raise ValueError(f"align: expected lr >= 0, but got {self.lr}")

    def rule_config(self, rule: str):
        return build_rule(rule, self.rule_options.get(rule))

    def task_instance(self) -> Task:
        return self.task_object

    @property
    def point_steps(self) -> List[int]:
        K, S = int(self.points), int(self.steps)
        return [S] if K == 1 else [round(k * S / (K - 1)) for k in range(K)]

    def as_dict(self) -> Dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        used = dict.fromkeys(self.rules + (self.train_rule,))
        d["rule_options"] = {r: rule_fields(self.rule_config(r)) for r in used}
        return _normalise(d)

    def describe(self) -> str:
        return (f"{self.task_instance()!r}, n={self.hidden}, alpha={self.alpha:g}, {self.nonlinearity}; trained online "
                f"by {self.train_rule} (SGD lr {self.lr:g}, {self.batch} stream{'s' if self.batch > 1 else ''}, "
                f"{self.steps:,} steps); {self.points} points, windows of {self.window} steps; seed {self.seed}")
