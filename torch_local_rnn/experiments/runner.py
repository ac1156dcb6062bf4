"""``python -m torch_local_rnn compare``: the same network trained by each rule, side by side, on any
task, over several seeds, runs in parallel, resumable.

Sequence mode (default): one pipeline for every rule with a sequence form, which differ only in
``LocalRNN(rule=...)``. B parallel streams of the task are cut into windows; for each window the
LocalRNN runs from the previous window's final state (detached), a readout nn.Linear(n, n_out) gives
the outputs, the loss is the task's mean per-step loss, ``loss.backward()`` asks the rule for the
recurrent weights' gradient, and torch.optim.Adam takes a step.

Online mode (``--mode online``): the papers' protocol (algorithms.md §2.1): OnlineLearner with plain
SGD after every time step, for the rules that have an online form (dni and dni_b only run here).

Seeds: seed k draws the initial weights (identical for every rule), the training streams (seed 2k)
and the test streams (seed 2k+1); the stochastic rules' noise comes from a generator of its own,
also seeded from k. The test loss is the mean per-step loss over the fixed test streams, run from a
zero state with learning off, every ``--eval-every`` steps and at the end.

Each finished (rule, seed) run is written at once to OUT/runs/<rule>-seed<k>.json; with
``--checkpoint-every N`` a run also saves its whole state to OUT/runs/<rule>-seed<k>.pt at the
first evaluation point after every N steps. Running the same command again with the same --out
loads the finished runs and resumes the interrupted ones from their checkpoints (the data stream is
regenerated from its seed and the part already trained on skipped): the result equals an
uninterrupted run. A run file made with another configuration is an error.
"""
import argparse
import csv
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from . import init, losses, rules
from .modules import LocalRNN
from .online import OnlineLearner
from .tasks import TASKS, Task, make_task

# Defaults per mode: sequence = windows of B parallel streams with Adam; online = the papers'
# protocol (per-step SGD, one stream).
DEFAULTS = {
    "sequence": dict(steps=100_000, batch=32, lr=1e-3),
    "online": dict(steps=1_000_000, batch=1, lr=1e-3),
}

ADD_SHORTCUTS = ("t1", "t2", "tau", "deterministic")

NO_ONLINE_FORM = ("no online form: the exact gradient needs the future of the stream (BPTT); "
                  "run it with --mode sequence")
NO_SEQUENCE_FORM = ("no sequence form: the synthetic gradient reads the label online (DNI); "
                    "run it with --mode online")


class ConfigMismatchError(ValueError):
    """A run file in the output folder was made with another configuration."""


# ---------------------------------------------------------------------------- options
def parse_value(text: str) -> Any:
    """A command-line option value: true/false, none, an int, a float, or else the string itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_assignments(items: Sequence[str], flag: str) -> Dict[str, Any]:
    """["k=v", ...] -> {k: parse_value(v)}."""
    out: Dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag}: expected KEY=VALUE, but got '{item}'")
        out[key.strip()] = parse_value(value)
    return out


def parse_rule_options(items: Sequence[str], flag: str = "--rule-option") -> Dict[str, Dict[str, Any]]:
    """["kernl.sigma=1e-3", "f_bptt.truncation=10"] -> {"kernl": {"sigma": 0.001}, "f_bptt": {"truncation": 10}}."""
    out: Dict[str, Dict[str, Any]] = {}
    for key, value in parse_assignments(items, flag).items():
        rule, dot, name = key.partition(".")
        if not dot or not rule or not name:
            raise ValueError(f"{flag}: expected RULE.OPTION=VALUE (e.g. kernl.sigma=1e-3), but got '{key}'")
        out.setdefault(rule, {})[name] = value
    return out


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
    family (AddTask.difficulty, MimicTask.difficulty, algorithms.md §6.3)."""
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


# ---------------------------------------------------------------------------- config
@dataclass
class CompareConfig:
    """Everything a compare run depends on (``python -m torch_local_rnn compare --help``).

    ``t1``, ``t2``, ``tau``, ``deterministic`` are shortcuts for options of the add task (None: the
    task's default). ``seed`` is the first seed, ``seeds`` how many (seed, seed + 1, ...). ``jobs``,
    ``threads`` and ``checkpoint_every`` change how the runs are executed, never their results."""

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
    seed: int = 0
    seeds: int = 1
    test_steps: int = 10_000
    test_streams: int = 8
    eval_every: Optional[int] = None  # steps per stream; None: about 25 points per curve
    threads: Optional[int] = 1
    jobs: Optional[int] = None  # None: min(cpu count, runs to do)
    checkpoint_every: Optional[int] = None

    def __post_init__(self):
        if self.mode not in DEFAULTS:
            raise ValueError(f"compare: expected mode 'sequence' or 'online', but got '{self.mode}'")
        self.rules = tuple(self.rules)
        if not self.rules:
            raise ValueError("compare: expected at least one rule")
        for rule in self.rules:
            if rule not in rules.RULES:
                raise ValueError(f"compare: expected rules from {sorted(rules.RULES)}, but got '{rule}'")
        if len(set(self.rules)) != len(self.rules):
            raise ValueError(f"compare: expected each rule once, but got {list(self.rules)}")
        for rule in self.rule_options:
            if rule not in self.rules:
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
        return build_rule(rule, self.rule_options.get(rule))

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
            "interval": self.interval})

    def describe(self) -> str:
        net = f"n={self.hidden}, alpha={self.alpha:g}, {self.nonlinearity}"
        if self.mode == "sequence":
            how = (f"{self.batch} streams x {self.steps:,} steps, windows of {self.window}, "
                   f"Adam lr {self.lr:g}")
        else:
            how = (f"online, {self.batch} stream{'s' if self.batch > 1 else ''} x {self.steps:,} steps, "
                   f"SGD lr {self.lr:g} every step")
        seeds = self.seed_list
        which = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
        return f"{self.task_instance()!r}, {net}; {how}; {which}"


# ---------------------------------------------------------------------------- networks
def initial_network(task: Task, hidden: int, alpha: float, nonlinearity: str,
                    seed: int) -> Tuple[LocalRNN, nn.Linear]:
    """The network of algorithms.md §1.1 from ``seed`` (LocalRNN with rule "bptt"): orthogonal W_hh,
    W_ih ~ N(0, 1/n_in), W_out ~ N(0, 1/n), zero biases."""
    g = torch.Generator()
    g.manual_seed(int(seed))
    rnn = LocalRNN(task.input_size, hidden, alpha=alpha, nonlinearity=nonlinearity, rule="bptt", generator=g)
    readout = nn.Linear(hidden, task.output_size)
    with torch.no_grad():
        readout.weight.copy_(init.normal(task.output_size, hidden, hidden, g))
        readout.bias.zero_()
    return rnn, readout


def noise_generator(seed: int, salt: int = 0) -> torch.Generator:
    """The generator of a rule's own randomness (noise, random feedback, random initial factors) for
    ``seed``: independent of the weights' generator, the same for every rule."""
    g = torch.Generator()
    g.manual_seed(1_000_003 * (int(seed) + 1) + salt)
    return g


def make_network(config: CompareConfig, rule: str, seed: Optional[int] = None) -> Tuple[LocalRNN, nn.Linear]:
    """The network for (rule, seed), identical initial weights for every rule (all from ``seed``,
    default config.seed); a LocalRNN with the rule when it has a sequence form, else with "bptt"."""
    seed = config.seed if seed is None else seed
    task = config.task_instance()
    base, readout = initial_network(task, config.hidden, config.alpha, config.nonlinearity, seed)
    cfg = config.rule_config(rule)
    if not cfg.has_sequence_form:
        return base, readout
    rnn = LocalRNN(task.input_size, config.hidden, alpha=config.alpha, nonlinearity=config.nonlinearity, rule=cfg,
                   weight_hh=base.weight_hh, weight_ih=base.weight_ih, bias=base.bias,
                   generator=noise_generator(seed))
    return rnn, readout


def test_loss(rnn: LocalRNN, readout: nn.Linear, x: Tensor, y: Tensor, loss: str) -> float:
    """Mean per-step loss over (x, y) from a zero state, learning off."""
    with torch.no_grad():
        out, _ = rnn(x)
        return losses.per_step_loss(readout(out), y, loss).mean().item()


class _Curve:
    def __init__(self):
        self.steps: List[int] = []
        self.test: List[float] = []
        self.train: List[float] = []
        self._sum, self._count = 0.0, 0

    def add_train(self, total: float, count: int) -> None:
        self._sum += total
        self._count += count

    def point(self, step: int, test: float) -> None:
        self.steps.append(step)
        self.test.append(test)
        self.train.append(self._sum / self._count if self._count else float("nan"))
        self._sum, self._count = 0.0, 0

    def state(self) -> Dict:
        return {"steps": list(self.steps), "test": list(self.test), "train": list(self.train),
                "sum": self._sum, "count": self._count}

    def load(self, state: Dict) -> None:
        self.steps, self.test, self.train = list(state["steps"]), list(state["test"]), list(state["train"])
        self._sum, self._count = state["sum"], state["count"]


# ---------------------------------------------------------------------------- one run
def run_paths(out_dir: str, rule: str, seed: int) -> Tuple[str, str]:
    base = os.path.join(out_dir, "runs", f"{rule}-seed{seed}")
    return base + ".json", base + ".pt"


def _check_identity(stored: Dict, expected: Dict, path: str) -> None:
    if stored == expected:
        return
    keys = sorted(set(stored) | set(expected))
    diffs = [f"{k}: {stored.get(k)!r} there, {expected.get(k)!r} now" for k in keys if stored.get(k) != expected.get(k)]
    raise ConfigMismatchError(f"{path} was made with another configuration ({'; '.join(diffs)}); "
                              f"use another --out, or delete the file to redo that run")


def _load_finished(path: str, identity: Dict) -> Dict:
    with open(path) as f:
        stored = json.load(f)
    _check_identity(stored.get("identity", {}), identity, path)
    result = stored["result"]
    for key in ("test_loss", "train_loss"):
        result[key] = [float("nan") if v is None else v for v in result[key]]
    for key in ("final_test_loss", "best_test_loss"):
        result[key] = float("nan") if result[key] is None else result[key]
    return result


def _load_checkpoint(path: str, identity: Dict) -> Dict:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    _check_identity(json.loads(checkpoint["identity"]), identity, path)
    return checkpoint


def _write_atomic(path: str, write: Callable[[str], None]) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    write(tmp)
    os.replace(tmp, path)


def check_run_files(config: CompareConfig, rule: str, seed: int, out_dir: str) -> Optional[str]:
    """'finished', 'checkpoint' or None; ConfigMismatchError when a file there disagrees with config."""
    json_path, pt_path = run_paths(out_dir, rule, seed)
    identity = config.identity(rule, seed)
    if os.path.exists(json_path):
        _load_finished(json_path, identity)
        return "finished"
    if os.path.exists(pt_path):
        _load_checkpoint(pt_path, identity)
        return "checkpoint"
    return None


def run_one(config: CompareConfig, rule: str, seed: int, out_dir: Optional[str] = None,
            progress: Optional[Callable[[int], None]] = None, stop_after: Optional[int] = None) -> Optional[Dict]:
    """Trains (rule, seed) and returns its result (curve, final and best test loss, seconds).

    With ``out_dir``: a finished run's file is loaded instead, an interrupted one resumes from its
    checkpoint, checkpoints are written every ``config.checkpoint_every`` steps and the result to
    OUT/runs/<rule>-seed<k>.json. ``stop_after``: stop at the first evaluation point at or after that
    many steps, save a checkpoint there (needs out_dir) and return None (what an interrupted job leaves)."""
    if stop_after is not None and out_dir is None:
        raise ValueError("compare: stop_after needs an out_dir to write the checkpoint to")
    identity = config.identity(rule, seed)
    resume = None
    save = None
    if out_dir is not None:
        json_path, pt_path = run_paths(out_dir, rule, seed)
        os.makedirs(os.path.dirname(json_path), exist_ok=True)
        if os.path.exists(json_path):
            result = _load_finished(json_path, identity)
            if progress is not None:
                progress(config.steps)
            return result
        if os.path.exists(pt_path):
            resume = _load_checkpoint(pt_path, identity)

        def save(state: Dict) -> None:
            state["identity"] = json.dumps(identity)
            _write_atomic(pt_path, lambda p: torch.save(state, p))

    train = _train_sequence if config.mode == "sequence" else _train_online
    result = train(config, rule, seed, resume, save, progress, stop_after)
    if result is None or out_dir is None:
        return result
    payload = {"identity": identity, "result": _json_safe(result), "torch": torch.__version__}

    def write(p: str) -> None:
        with open(p, "w") as f:
            json.dump(payload, f)

    _write_atomic(json_path, write)
    if os.path.exists(pt_path):
        os.remove(pt_path)
    return result


class _Schedule:
    """When to evaluate, checkpoint and stop (all at evaluation points)."""

    def __init__(self, config: CompareConfig, done: int, save, stop_after: Optional[int]):
        self.config, self.save, self.stop_after = config, save, stop_after
        self.every, self.last_checkpoint = config.interval, done

    def evaluate_now(self, done: int) -> bool:
        return done % self.every == 0 or done == self.config.steps

    def checkpoint_now(self, done: int) -> Tuple[bool, bool]:
        """(save a checkpoint, stop) at evaluation point ``done``."""
        if self.save is None or done >= self.config.steps:
            return False, False
        stop = self.stop_after is not None and done >= self.stop_after
        every = self.config.checkpoint_every
        due = every is not None and done - self.last_checkpoint >= every
        if stop or due:
            self.last_checkpoint = done
        return stop or due, stop


def _train_sequence(config: CompareConfig, rule: str, seed: int, resume: Optional[Dict], save, progress,
                    stop_after) -> Optional[Dict]:
    """Windows of B streams, LocalRNN(rule) + readout + the task's loss + Adam."""
    task = config.task_instance()
    test_data = task.generate(config.test_steps, config.test_streams, seed=config.test_seed(seed))
    rnn, readout = make_network(config, rule, seed)
    optimizer = torch.optim.Adam(list(rnn.parameters()) + list(readout.parameters()), lr=config.lr)
    curve, h, done, seconds = _Curve(), None, 0, 0.0
    if resume is None:
        curve.point(0, test_loss(rnn, readout, *test_data, task.loss))
    else:
        rnn.load_state_dict(resume["rnn"])
        readout.load_state_dict(resume["readout"])
        optimizer.load_state_dict(resume["optimizer"])
        curve.load(resume["curve"])
        h, done, seconds = resume["hidden"], int(resume["done"]), float(resume["seconds"])
        if progress is not None:
            progress(done)
    schedule = _Schedule(config, done, save, stop_after)
    start = time.perf_counter()
    position = 0
    for x, y in task.stream(config.steps, config.batch, config.window, seed=config.data_seed(seed)):
        position += x.shape[0]
        if position <= done:  # trained on before the checkpoint: regenerated and skipped
            continue
        out, h = rnn(x, None if h is None else h.detach())
        step_losses = losses.per_step_loss(readout(out), y, task.loss)
        loss = step_losses.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        curve.add_train(step_losses.detach().sum().item(), step_losses.numel())
        done += x.shape[0]
        if progress is not None:
            progress(x.shape[0])
        if schedule.evaluate_now(done):
            curve.point(done, test_loss(rnn, readout, *test_data, task.loss))
            write, stop = schedule.checkpoint_now(done)
            if write:
                save({"rnn": rnn.state_dict(), "readout": readout.state_dict(), "optimizer": optimizer.state_dict(),
                      "curve": curve.state(), "hidden": h.detach().clone(), "done": done,
                      "seconds": seconds + time.perf_counter() - start})
            if stop:
                return None
    return _result(rule, seed, curve, seconds + time.perf_counter() - start)


def _train_online(config: CompareConfig, rule: str, seed: int, resume: Optional[Dict], save, progress,
                  stop_after) -> Optional[Dict]:
    """The papers' protocol: OnlineLearner, SGD after every step, traces carried across updates."""
    task = config.task_instance()
    test_data = task.generate(config.test_steps, config.test_streams, seed=config.test_seed(seed))
    rnn, readout = make_network(config, rule, seed)
    learner = OnlineLearner(rnn, readout, loss=task.loss, lr=config.lr, batch_size=config.batch,
                            rule=config.rule_config(rule), generator=noise_generator(seed, 1))
    curve, done, seconds = _Curve(), 0, 0.0
    if resume is None:
        curve.point(0, test_loss(rnn, readout, *test_data, task.loss))
    else:
        learner.load_state_dict(resume["learner"])
        curve.load(resume["curve"])
        done, seconds = int(resume["done"]), float(resume["seconds"])
        if progress is not None:
            progress(done)
    schedule = _Schedule(config, done, save, stop_after)
    every = config.interval
    start = time.perf_counter()
    position = 0
    for x, y in task.stream(config.steps, config.batch, every, seed=config.data_seed(seed)):
        position += x.shape[0]
        if position <= done:
            continue
        step_losses = learner.fit(x, y, chunk_size=every)
        curve.add_train(step_losses.sum().item(), step_losses.numel())
        done += x.shape[0]
        if progress is not None:
            progress(x.shape[0])
        curve.point(done, test_loss(rnn, readout, *test_data, task.loss))
        write, stop = schedule.checkpoint_now(done)
        if write:
            save({"learner": learner.state_dict(), "curve": curve.state(), "done": done,
                  "seconds": seconds + time.perf_counter() - start})
        if stop:
            return None
    return _result(rule, seed, curve, seconds + time.perf_counter() - start)


def _result(rule: str, seed: int, curve: _Curve, seconds: float) -> Dict:
    finite = [v for v in curve.test if math.isfinite(v)]
    return {"rule": rule, "seed": seed, "steps": curve.steps, "test_loss": curve.test, "train_loss": curve.train,
            "final_test_loss": curve.test[-1], "best_test_loss": min(finite) if finite else float("nan"),
            "seconds": seconds}


# ---------------------------------------------------------------------------- many runs
_WORKER_QUEUE = None


def _init_worker(queue, threads: Optional[int]) -> None:
    global _WORKER_QUEUE
    _WORKER_QUEUE = queue
    torch.set_num_threads(int(threads or 1))


def _worker(args) -> Tuple[Tuple[str, int], Optional[Dict]]:
    config, rule, seed, out_dir, stop_after = args
    pending = [0, time.monotonic()]

    def report(steps: int) -> None:  # batched, at most ~5 messages a second
        pending[0] += steps
        if time.monotonic() - pending[1] > 0.2:
            _WORKER_QUEUE.put(pending[0])
            pending[0], pending[1] = 0, time.monotonic()

    result = run_one(config, rule, seed, out_dir, report, stop_after)
    if pending[0]:
        _WORKER_QUEUE.put(pending[0])
    return (rule, seed), result


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plan_runs(config: CompareConfig) -> Tuple[List[Tuple[str, int]], Dict[str, str]]:
    """The (rule, seed) runs this mode can do, and the skipped rules with the reason."""
    runs, skipped = [], {}
    for rule in config.rules:
        cfg = config.rule_config(rule)
        if config.mode == "online" and not cfg.has_online_form:
            skipped[rule] = NO_ONLINE_FORM
        elif config.mode == "sequence" and not cfg.has_sequence_form:
            skipped[rule] = NO_SEQUENCE_FORM
        else:
            runs += [(rule, seed) for seed in config.seed_list]
    return runs, skipped


def compare(config: CompareConfig, progress: bool = True, out_dir: Optional[str] = None,
            stop_after: Optional[int] = None) -> Dict:
    """Trains one network per (rule, seed) from the seed's initial weights on the seed's data, in
    ``config.jobs`` processes; returns the curves, their summary over seeds, the task's reference
    levels and the skipped rules. With ``out_dir`` the runs are saved and resumed (module docstring);
    runs stopped by ``stop_after`` are listed under "interrupted"."""
    task = config.task_instance()
    runs, skipped = plan_runs(config)
    states = {}
    if out_dir is not None:
        for rule, seed in runs:  # every mismatch is found before anything runs
            states[(rule, seed)] = check_run_files(config, rule, seed, out_dir)
    pending = [r for r in runs if states.get(r) != "finished"]
    jobs = int(config.jobs) if config.jobs else max(1, min(_cpu_count(), len(pending)))
    bar = _bar(len(runs) * config.steps, progress)
    results: Dict[Tuple[str, int], Optional[Dict]] = {}
    try:
        if jobs <= 1 or len(pending) <= 1:
            previous = torch.get_num_threads()
            if config.threads:
                torch.set_num_threads(int(config.threads))
            try:
                for rule, seed in runs:
                    if bar is not None:
                        bar.set_description(f"{rule} seed {seed}")
                    results[(rule, seed)] = run_one(config, rule, seed, out_dir, None if bar is None else bar.update,
                                                    stop_after)
            finally:
                torch.set_num_threads(previous)
        else:
            for rule, seed in runs:
                if (rule, seed) not in pending:
                    results[(rule, seed)] = run_one(config, rule, seed, out_dir, None if bar is None else bar.update)
            results.update(_run_parallel(config, pending, jobs, out_dir, stop_after, bar))
    finally:
        if bar is not None:
            bar.close()
    return build_report(config, task, runs, results, skipped)


def _run_parallel(config, pending, jobs, out_dir, stop_after, bar) -> Dict:
    import multiprocessing as mp
    import queue as queue_module

    ctx = mp.get_context("spawn")  # no fork: the parent's OpenMP threads must not leak into the workers
    messages = ctx.Queue()
    results = {}

    def drain(timeout: float) -> None:
        try:
            while True:
                steps = messages.get(timeout=timeout)
                if bar is not None:
                    bar.update(steps)
                timeout = 0.0
        except queue_module.Empty:
            pass

    if bar is not None:
        bar.set_description(f"{len(pending)} runs, {jobs} processes")
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(messages, config.threads)) as pool:
        handles = [pool.apply_async(_worker, ((config, rule, seed, out_dir, stop_after),)) for rule, seed in pending]
        remaining = list(handles)
        while remaining:
            drain(0.1)
            for handle in [h for h in remaining if h.ready()]:
                key, result = handle.get()  # re-raises a worker's exception
                results[key] = result
                remaining.remove(handle)
        drain(0.0)
    return results


def _bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="step", unit_scale=True, dynamic_ncols=True, file=sys.stderr)


def mean_sd(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for one value); nan for none."""
    values = list(values)
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(per_seed: Dict[int, Dict]) -> Dict:
    """Over the seeds of one rule: final test loss mean +- sd and best (over the seeds whose final test
    loss is finite; the others are counted as diverged), time, and the mean +- sd curve."""
    finals = [r["final_test_loss"] for r in per_seed.values()]
    finite = [v for v in finals if math.isfinite(v)]
    final_mean, final_sd = mean_sd(finite)
    bests = [r["best_test_loss"] for r in per_seed.values() if math.isfinite(r["best_test_loss"])]
    seconds = [r["seconds"] for r in per_seed.values()]
    first = next(iter(per_seed.values()))
    curve_mean, curve_sd = [], []
    for k in range(len(first["steps"])):
        mean, sd = mean_sd([r["test_loss"][k] for r in per_seed.values() if math.isfinite(r["test_loss"][k])])
        curve_mean.append(mean)
        curve_sd.append(sd)
    train_mean = [mean_sd([r["train_loss"][k] for r in per_seed.values() if math.isfinite(r["train_loss"][k])])[0]
                  for k in range(len(first["steps"]))]
    return {"n": len(per_seed), "diverged": len(finals) - len(finite), "final_mean": final_mean, "final_sd": final_sd,
            "best_mean": mean_sd(bests)[0], "best_min": min(bests) if bests else float("nan"),
            "seconds_mean": statistics.fmean(seconds), "seconds_total": sum(seconds),
            "steps": list(first["steps"]), "test_mean": curve_mean, "test_sd": curve_sd, "train_mean": train_mean}


def build_report(config: CompareConfig, task: Task, runs, results, skipped) -> Dict:
    per_rule: Dict[str, Dict[int, Dict]] = {}
    interrupted = []
    for rule, seed in runs:
        result = results.get((rule, seed))
        if result is None:
            interrupted.append(f"{rule}-seed{seed}")
        else:
            per_rule.setdefault(rule, {})[seed] = result
    return {"config": config.as_dict(), "description": config.describe(), "task": repr(task), "loss": task.loss,
            "reference_levels": task.reference_levels, "seeds": config.seed_list,
            "results": {rule: {str(seed): r for seed, r in by_seed.items()} for rule, by_seed in per_rule.items()},
            "summary": {rule: summarise(by_seed) for rule, by_seed in per_rule.items()},
            "skipped": skipped, "interrupted": interrupted,
            "test": f"mean per-step loss over {config.test_streams} fresh streams x {config.test_steps:,} steps "
                    f"(seed 2k+1 for seed k), zero initial state, learning off",
            "torch": torch.__version__}


# ---------------------------------------------------------------------------- output
LOSS_UNITS = {"cross_entropy": "nats per step", "mse": "per step"}
LOSS_LABELS = {"cross_entropy": "cross-entropy (nats per step)",
               "mse": "mean squared error (1/2 mean over outputs, per step)"}


def _learned(levels: Dict[str, float], value: float) -> Optional[float]:
    if len(levels) < 2 or not math.isfinite(value):
        return None
    top, bottom = max(levels.values()), min(levels.values())
    return 100.0 * (top - value) / (top - bottom) if top > bottom else None


def format_table(report: Dict) -> str:
    levels = report["reference_levels"]
    width = 74
    lines = [report["description"], f"test loss: {report['test']}", "",
             f"  {'rule':<12}{'n':>3}{'final test loss':>20}{'best':>9}{'learned':>9}{'time/run':>10}",
             "  " + "-" * width]
    for rule, s in report["summary"].items():
        learned = _learned(levels, s["final_mean"])
        final = f"{s['final_mean']:.4f} ± {s['final_sd']:.4f}" if math.isfinite(s["final_mean"]) else "diverged"
        lines.append(f"  {rule:<12}{s['n']:>3}{final:>20}{s['best_mean']:>9.4f}"
                     f"{'' if learned is None else f'{learned:.0f}%':>9}{s['seconds_mean']:>9.1f}s")
    for rule, why in report["skipped"].items():
        lines.append(f"  {rule:<12}{'-':>3}{'-':>20}   {why}")
    for rule, s in report["summary"].items():
        if s["diverged"]:
            lines.append(f"  note: {rule} diverged (non-finite test loss) in {s['diverged']} of {s['n']} seeds "
                         f"(left out of its mean); try a lower --lr")
    if report["interrupted"]:
        lines.append(f"  interrupted (checkpoint saved): {', '.join(report['interrupted'])}")
    lines.append("  " + "-" * width)
    lines.append("  final test loss: mean ± sd (n - 1) over the seeds; best: mean over the seeds of each "
                 "curve's lowest point")
    if levels:
        lines.append(f"  reference levels ({LOSS_UNITS.get(report['loss'], 'per step')}):")
        for name, value in sorted(levels.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {'':<6}{value:>16.4f}   {name}")
        if len(levels) >= 2:
            top = max(levels, key=levels.get)
            bottom = min(levels, key=levels.get)
            lines.append(f"  learned = ({top} - final) / ({top} - {bottom})")
    else:
        lines.append("  (this task has no exactly computable reference levels)")
    return "\n".join(lines)


def write_outputs(report: Dict, out_dir: str) -> Dict[str, str]:
    """learning_curves.png, curves.csv, curves.json in out_dir; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f) for k, f in
             (("png", "learning_curves.png"), ("csv", "curves.csv"), ("json", "curves.json"))}
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["rule", "seed", "step", "test_loss", "train_loss"])
        for rule, by_seed in report["results"].items():
            for seed, r in by_seed.items():
                for step, test, train in zip(r["steps"], r["test_loss"], r["train_loss"]):
                    writer.writerow([rule, seed, step, repr(float(test)),
                                     "" if math.isnan(train) else repr(float(train))])
    with open(paths["json"], "w") as f:
        json.dump(_json_safe(report), f, indent=1)
    _plot(report, paths["png"])
    return paths


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _plot(report: Dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    for k, (rule, s) in enumerate(report["summary"].items()):
        color = f"C{k % 10}"
        steps = s["steps"]
        mean = [float("nan") if v is None else v for v in s["test_mean"]]
        sd = [0.0 if v is None or not math.isfinite(v) else v for v in s["test_sd"]]
        final = f"{s['final_mean']:.4f} ± {s['final_sd']:.4f}" if math.isfinite(s["final_mean"]) else "diverged"
        ax.plot(steps, mean, color=color, lw=2, marker="o", ms=3, label=f"{rule}: test, n={s['n']} (final {final})")
        if s["n"] > 1:
            ax.fill_between(steps, [m - d for m, d in zip(mean, sd)], [m + d for m, d in zip(mean, sd)],
                            color=color, alpha=0.18, lw=0)
        ax.plot(steps[1:], s["train_mean"][1:], color=color, lw=1, alpha=0.45, label=f"{rule}: train")
    levels = report["reference_levels"]
    for name, value in sorted(levels.items(), key=lambda kv: -kv[1]):
        ax.axhline(value, color="0.35", ls="--", lw=1)
        ax.annotate(f"{name} {value:.4f}", xy=(1.0, value), xycoords=("axes fraction", "data"),
                    xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom", fontsize=8, color="0.3")
    values = [v for s in report["summary"].values() for v in s["test_mean"] if v is not None and math.isfinite(v)]
    if levels and values:
        top, bottom = max(levels.values()), min(levels.values())
        span = (top - bottom) or max(abs(top), 1e-3)
        low = min(bottom, min(values)) - 0.08 * span
        high = min(max(top + 0.1 * span, max(values) + 0.03 * span), top + 0.5 * span)
        ax.set_ylim(low, high)
    ax.set_xlabel("training steps per stream")
    ax.set_ylabel(LOSS_LABELS.get(report["loss"], report["loss"]))
    ax.set_title(report["description"] + "\nmean over seeds, band: ± sd", fontsize=8)
    ax.grid(alpha=0.3)
    if report["summary"]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------- command line
def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Task, rules, network: shared with ``align``."""
    a = parser.add_argument
    a("--task", choices=sorted(TASKS), default="add", help="the task (default add)")
    a("--task-option", action="append", default=[], metavar="KEY=VALUE",
      help="an option of the task's constructor, repeatable (e.g. --task-option t1=5 --task-option t2=9; "
           "difficulty=D picks the JMLR family of add and mimic)")
    a("--rule-option", action="append", default=[], metavar="RULE.KEY=VALUE",
      help="an option of a rule's config, repeatable (e.g. --rule-option kernl.sigma=1e-3 "
           "--rule-option f_bptt.truncation=10)")
    a("--hidden", type=int, default=32, help="hidden units n (default 32)")
    a("--alpha", type=float, default=1.0, help="leak alpha of the network (default 1)")
    a("--nonlinearity", choices=("tanh", "relu", "sigmoid"), default="tanh")
    a("--threads", type=int, default=1,
      help="torch CPU threads per process (default 1: at n=32 each step is microseconds of work, "
           "and more threads only add synchronisation; 0 keeps torch's setting)")
    a("--no-progress", action="store_true", help="no progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    seq, onl = DEFAULTS["sequence"], DEFAULTS["online"]
    a = parser.add_argument
    a("--mode", choices=("sequence", "online"), default="sequence",
      help="sequence: B streams in windows, loss.backward() + Adam, rules with a sequence form (default); "
           "online: the papers' protocol, OnlineLearner with SGD after every step, rules with an online form")
    a("--rules", default="bptt,rflo", help="comma-separated rules (default: bptt,rflo)")
    add_common_arguments(parser)
    a("--t1", type=int, default=None, help="add task: first (shorter) lag (default 5)")
    a("--t2", type=int, default=None, help="add task: second lag (default 9)")
    a("--tau", type=int, default=None, help="add task: time steps per sample (default 1)")
    a("--sampled-labels", action="store_true", help="add task: Bernoulli labels instead of the papers' soft labels")
    a("--steps", type=int, default=None,
      help=f"training steps per stream (default {seq['steps']:,}; online {onl['steps']:,})")
    a("--batch", type=int, default=None, help=f"parallel streams B (default {seq['batch']}; online {onl['batch']})")
    a("--window", type=int, default=50, help="window length in steps, sequence mode (default 50)")
    a("--lr", type=float, default=None,
      help=f"learning rate: Adam, sequence mode (default {seq['lr']:g}); SGD, online mode (default {onl['lr']:g})")
    a("--seed", type=int, default=0,
      help="first seed (default 0); seed k draws the weights, the training data (2k) and the test data (2k+1)")
    a("--seeds", type=int, default=1, help="number of seeds: seed, seed+1, ... (default 1)")
    a("--jobs", type=int, default=None,
      help="processes running (rule, seed) runs in parallel (default: min(CPUs, runs to do))")
    a("--out", default="results", help="output folder (default ./results): PNG, CSV, JSON, and runs/ for resuming")
    a("--checkpoint-every", type=int, default=None,
      help="save each run's state to OUT/runs/<rule>-seed<k>.pt at the first evaluation point after every "
           "this many steps (default: only finished runs are saved)")
    a("--stop-after", type=int, default=None,
      help="stop every run at its first evaluation point at or after this many steps and save a checkpoint "
           "there (for time-limited jobs; run the same command again to continue)")
    a("--test-steps", type=int, default=10_000, help="steps per test stream (default 10,000)")
    a("--test-streams", type=int, default=8, help="test streams (default 8)")
    a("--eval-every", type=int, default=None, help="steps per stream between test evaluations "
                                                  "(default: steps/25, rounded up to whole windows)")


def split_rules(text: str) -> Tuple[str, ...]:
    return tuple(r.strip() for r in text.split(",") if r.strip())


def config_from_args(args: argparse.Namespace) -> CompareConfig:
    defaults = DEFAULTS[args.mode]
    pick = lambda value, name: defaults[name] if value is None else value  # noqa: E731
    return CompareConfig(mode=args.mode, rules=split_rules(args.rules), task=args.task,
                         task_options=parse_assignments(args.task_option, "--task-option"),
                         t1=args.t1, t2=args.t2, tau=args.tau, deterministic=False if args.sampled_labels else None,
                         rule_options=parse_rule_options(args.rule_option),
                         hidden=args.hidden, alpha=args.alpha, nonlinearity=args.nonlinearity,
                         steps=pick(args.steps, "steps"), batch=pick(args.batch, "batch"), window=args.window,
                         lr=pick(args.lr, "lr"), seed=args.seed, seeds=args.seeds, test_steps=args.test_steps,
                         test_streams=args.test_streams, eval_every=args.eval_every, threads=args.threads or None,
                         jobs=args.jobs, checkpoint_every=args.checkpoint_every)


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        if args.stop_after is not None and args.stop_after < 1:
            raise ValueError(f"compare: expected stop_after >= 1, but got {args.stop_after}")
        started = time.perf_counter()
        report = compare(config, progress=not args.no_progress, out_dir=args.out, stop_after=args.stop_after)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report["wall_seconds"] = time.perf_counter() - started
    report["command"] = "python -m torch_local_rnn compare " + " ".join(getattr(args, "argv", []) or [])
    print(format_table(report))
    if report["interrupted"]:
        print(f"\n{len(report['interrupted'])} runs stopped at a checkpoint in {os.path.join(args.out, 'runs')}; "
              "run the same command again to continue (nothing else written)", file=sys.stderr)
        return 3
    if not report["results"]:
        print("\nno rule could run in this mode; nothing written", file=sys.stderr)
        return 1
    paths = write_outputs(report, args.out)
    print(f"\nwrote {paths['png']}, {paths['csv']}, {paths['json']} ({report['wall_seconds']:.1f} s in all)")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``compare`` alone (its flags, without the subcommand)."""
    parser = argparse.ArgumentParser(prog="python -m torch_local_rnn compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    return run(args)
