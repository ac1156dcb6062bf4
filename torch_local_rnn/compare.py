"""``python -m torch_local_rnn compare``: the same network trained by each rule, side by side.

Sequence mode (default): one pipeline for every rule, which differ only in ``LocalRNN(rule=...)``.
B parallel streams of the Add task are cut into windows; for each window the LocalRNN runs from
the previous window's final state (detached), a readout nn.Linear(n, 2) gives the logits, the
loss is the mean per-step cross-entropy with soft labels, ``loss.backward()`` asks the rule for
the recurrent weights' gradient, and torch.optim.Adam takes a step.

Online mode (``--mode online``): the papers' protocol (algorithms.md §2.1): OnlineLearner with
plain SGD after every time step, for the rules that have an online form.

The test loss is the mean per-step loss over a fixed, fresh test stream (its own seed), run from a
zero state with learning off; it is measured every ``--eval-every`` steps and at the end.
"""
import argparse
import csv
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from . import init, losses, rules
from .modules import LocalRNN
from .online import OnlineLearner
from .tasks import AddTask

# Defaults per mode: sequence = windows of B parallel streams with Adam; online = the papers'
# protocol (per-step SGD, one stream).
DEFAULTS = {
    "sequence": dict(steps=100_000, batch=32, lr=1e-3),
    "online": dict(steps=1_000_000, batch=1, lr=1e-3),
}


@dataclass
class CompareConfig:
    """Everything a compare run depends on (``python -m torch_local_rnn compare --help``)."""

    mode: str = "sequence"
    rules: Tuple[str, ...] = ("bptt", "rflo")
    t1: int = 5
    t2: int = 9
    tau: int = 1
    deterministic: bool = True
    hidden: int = 32
    alpha: float = 1.0
    nonlinearity: str = "tanh"
    steps: int = DEFAULTS["sequence"]["steps"]  # per stream
    batch: int = DEFAULTS["sequence"]["batch"]
    window: int = 50
    lr: float = DEFAULTS["sequence"]["lr"]
    seed: int = 0
    test_steps: int = 10_000
    test_streams: int = 8
    eval_every: Optional[int] = None  # steps per stream; None: about 25 points per curve
    threads: Optional[int] = 1

    def __post_init__(self):
        if self.mode not in DEFAULTS:
            raise ValueError(f"compare: expected mode 'sequence' or 'online', but got '{self.mode}'")
        self.rules = tuple(self.rules)
        for rule in self.rules:
            if rule not in rules.RULES:
                raise ValueError(f"compare: expected rules from {sorted(rules.RULES)}, but got '{rule}'")
        if not self.rules:
            raise ValueError("compare: expected at least one rule")
        positive = dict(steps=self.steps, batch=self.batch, window=self.window, hidden=self.hidden,
                        test_steps=self.test_steps, test_streams=self.test_streams)
        for name, value in positive.items():
            if int(value) < 1:
                raise ValueError(f"compare: expected {name} >= 1, but got {value}")
        if self.eval_every is not None and int(self.eval_every) < 1:
            raise ValueError(f"compare: expected eval_every >= 1, but got {self.eval_every}")
        if not self.lr > 0:
            raise ValueError(f"compare: expected lr > 0, but got {self.lr}")

    @property
    def data_seed(self) -> int:
        return 2 * self.seed

    @property
    def test_seed(self) -> int:
        return 2 * self.seed + 1

    @property
    def interval(self) -> int:
        """Steps per stream between test evaluations (a multiple of the window in sequence mode)."""
        unit = self.window if self.mode == "sequence" else 1
        every = self.eval_every if self.eval_every is not None else max(1, self.steps // 25)
        return max(unit, -(-int(every) // unit) * unit)

    def task(self) -> AddTask:
        return AddTask(self.t1, self.t2, self.tau, self.deterministic)

    def describe(self) -> str:
        net = f"n={self.hidden}, alpha={self.alpha:g}, {self.nonlinearity}"
        task = f"Add(t1={self.t1}, t2={self.t2}, tau={self.tau}{'' if self.deterministic else ', sampled labels'})"
        if self.mode == "sequence":
            how = (f"{self.batch} streams x {self.steps:,} steps, windows of {self.window}, "
                   f"Adam lr {self.lr:g}")
        else:
            how = (f"online, {self.batch} stream{'s' if self.batch > 1 else ''} x {self.steps:,} steps, "
                   f"SGD lr {self.lr:g} every step")
        return f"{task}, {net}; {how}; seed {self.seed}"


def make_network(config: CompareConfig, rule: str) -> Tuple[LocalRNN, nn.Linear]:
    """The network of algorithms.md §1.1, identical for every rule (all weights from ``seed``):
    orthogonal W_hh, W_ih ~ N(0, 1/n_in), W_out ~ N(0, 1/n), zero biases."""
    g = torch.Generator()
    g.manual_seed(config.seed)
    task = config.task()
    rnn = LocalRNN(task.input_size, config.hidden, alpha=config.alpha, nonlinearity=config.nonlinearity,
                   rule=rule, generator=g)
    readout = nn.Linear(config.hidden, task.output_size)
    with torch.no_grad():
        readout.weight.copy_(init.normal(task.output_size, config.hidden, config.hidden, g))
        readout.bias.zero_()
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


def _bar(total: int, desc: str, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="step", unit_scale=True, dynamic_ncols=True, file=sys.stderr)


def train_sequence(config: CompareConfig, rule: str, test_data: Tuple[Tensor, Tensor],
                   progress: bool = True) -> Dict:
    """Windows of B streams, LocalRNN(rule) + readout + cross-entropy + Adam."""
    task = config.task()
    rnn, readout = make_network(config, rule)
    params = list(rnn.parameters()) + list(readout.parameters())
    optimizer = torch.optim.Adam(params, lr=config.lr)
    curve, every = _Curve(), config.interval
    curve.point(0, test_loss(rnn, readout, *test_data, task.loss))
    bar = _bar(config.steps, f"{rule:>5} (sequence)", progress)
    h = None
    done = 0
    start = time.perf_counter()
    for x, y in task.stream(config.steps, config.batch, config.window, seed=config.data_seed):
        out, h = rnn(x, None if h is None else h.detach())
        step_losses = losses.per_step_loss(readout(out), y, task.loss)
        loss = step_losses.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        curve.add_train(step_losses.detach().sum().item(), step_losses.numel())
        done += x.shape[0]
        if done % every == 0 or done == config.steps:
            curve.point(done, test_loss(rnn, readout, *test_data, task.loss))
        if bar is not None:
            bar.update(x.shape[0])
            bar.set_postfix(train=f"{loss.item():.4f}", test=f"{curve.test[-1]:.4f}", refresh=False)
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    return _result(curve, seconds)


def train_online(config: CompareConfig, rule: str, test_data: Tuple[Tensor, Tensor],
                 progress: bool = True) -> Dict:
    """The papers' protocol: OnlineLearner, SGD after every step, traces carried across updates."""
    task = config.task()
    rnn, readout = make_network(config, rule)
    learner = OnlineLearner(rnn, readout, loss=task.loss, lr=config.lr, batch_size=config.batch)
    curve, every = _Curve(), config.interval
    curve.point(0, test_loss(rnn, readout, *test_data, task.loss))
    bar = _bar(config.steps, f"{rule:>5} (online)", progress)
    done = 0
    start = time.perf_counter()
    for x, y in task.stream(config.steps, config.batch, every, seed=config.data_seed):
        step_losses = learner.fit(x, y, chunk_size=every)
        curve.add_train(step_losses.sum().item(), step_losses.numel())
        done += x.shape[0]
        curve.point(done, test_loss(rnn, readout, *test_data, task.loss))
        if bar is not None:
            bar.update(x.shape[0])
            bar.set_postfix(train=f"{step_losses.mean().item():.4f}", test=f"{curve.test[-1]:.4f}", refresh=False)
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    return _result(curve, seconds)


def _result(curve: _Curve, seconds: float) -> Dict:
    finite = [v for v in curve.test if math.isfinite(v)]
    return {"steps": curve.steps, "test_loss": curve.test, "train_loss": curve.train,
            "final_test_loss": curve.test[-1], "best_test_loss": min(finite) if finite else float("nan"),
            "seconds": seconds}


NO_ONLINE_FORM = ("no online form: the exact gradient needs the future of the stream (BPTT); "
                  "run it with --mode sequence")


def compare(config: CompareConfig, progress: bool = True) -> Dict:
    """Trains one network per rule from the same initial weights on the same data; returns the
    curves, final test losses, the task's reference levels and the skipped rules."""
    task = config.task()
    test_data = task.generate(config.test_steps, config.test_streams, seed=config.test_seed)
    results, skipped = {}, {}
    previous = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(int(config.threads))
    try:
        for rule in config.rules:
            if config.mode == "online" and not rules.RULES[rule].has_online_form:
                skipped[rule] = NO_ONLINE_FORM
                continue
            train = train_sequence if config.mode == "sequence" else train_online
            results[rule] = train(config, rule, test_data, progress)
    finally:
        torch.set_num_threads(previous)
    return {"config": asdict(config), "description": config.describe(),
            "reference_levels": task.reference_levels, "results": results, "skipped": skipped,
            "test": f"mean per-step loss over {config.test_streams} fresh streams x {config.test_steps:,} steps "
                    f"(seed {config.test_seed}), zero initial state, learning off",
            "torch": torch.__version__}


def format_table(report: Dict) -> str:
    levels = report["reference_levels"]
    top, best = levels["nothing learned"], levels["optimum"]
    lines = [report["description"], f"test loss: {report['test']}", "",
             f"  {'rule':<12}{'final test loss':>16}{'best':>9}{'learned':>9}{'time':>9}",
             "  " + "-" * 55]
    for rule, r in report["results"].items():
        learned = 100.0 * (top - r["final_test_loss"]) / (top - best)
        lines.append(f"  {rule:<12}{r['final_test_loss']:>16.4f}{r['best_test_loss']:>9.4f}{learned:>8.0f}%"
                     f"{r['seconds']:>8.1f}s")
    for rule, why in report["skipped"].items():
        lines.append(f"  {rule:<12}{'-':>16}   {why}")
    notes = []
    for rule, r in report["results"].items():
        if not math.isfinite(r["final_test_loss"]):
            notes.append(f"  note: {rule} diverged (non-finite test loss); try a lower --lr")
    lines += notes
    lines += ["  " + "-" * 55, "  reference levels (nats per step):"]
    for name, value in sorted(levels.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {'':<6}{value:>16.4f}   {name}")
    lines.append("  learned = (nothing learned - final) / (nothing learned - optimum)")
    return "\n".join(lines)


def write_outputs(report: Dict, out_dir: str) -> Dict[str, str]:
    """learning_curves.png, curves.csv, curves.json in out_dir; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f) for k, f in
             (("png", "learning_curves.png"), ("csv", "curves.csv"), ("json", "curves.json"))}
    mode = report["config"]["mode"]
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["mode", "rule", "step", "samples", "test_loss", "train_loss"])
        batch = report["config"]["batch"]
        for rule, r in report["results"].items():
            for step, test, train in zip(r["steps"], r["test_loss"], r["train_loss"]):
                writer.writerow([mode, rule, step, step * batch, f"{test:.6f}",
                                 "" if math.isnan(train) else f"{train:.6f}"])
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
    for k, (rule, r) in enumerate(report["results"].items()):
        color = f"C{k}"
        ax.plot(r["steps"], r["test_loss"], color=color, lw=2, marker="o", ms=3,
                label=f"{rule}: test (final {r['final_test_loss']:.4f})")
        ax.plot(r["steps"][1:], r["train_loss"][1:], color=color, lw=1, alpha=0.45, label=f"{rule}: train")
    levels = report["reference_levels"]
    for k, (name, value) in enumerate(sorted(levels.items(), key=lambda kv: -kv[1])):
        ax.axhline(value, color="0.35", ls="--", lw=1)
        ax.annotate(f"{name} {value:.4f}", xy=(1.0, value), xycoords=("axes fraction", "data"),
                    xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom", fontsize=8, color="0.3")
    highest = max([v for r in report["results"].values() for v in r["test_loss"] if math.isfinite(v)], default=0.0)
    top = levels["nothing learned"]
    ax.set_ylim(levels["optimum"] - 0.04, min(max(top + 0.06, highest + 0.01), top + 0.25))
    ax.set_xlabel("training steps per stream")
    ax.set_ylabel("cross-entropy (nats per step)")
    ax.set_title(report["description"], fontsize=8)
    ax.grid(alpha=0.3)
    if report["results"]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    seq, onl = DEFAULTS["sequence"], DEFAULTS["online"]
    a = parser.add_argument
    a("--mode", choices=("sequence", "online"), default="sequence",
      help="sequence: B streams in windows, loss.backward() + Adam, every rule (default); online: the papers' "
           "protocol, OnlineLearner with SGD after every step, rules with an online form only")
    a("--rules", default="bptt,rflo", help="comma-separated rules (default: bptt,rflo)")
    a("--t1", type=int, default=5, help="first (shorter) lag of the Add task (default 5)")
    a("--t2", type=int, default=9, help="second lag (default 9)")
    a("--tau", type=int, default=1, help="time steps per sample (default 1)")
    a("--sampled-labels", action="store_true", help="Bernoulli labels instead of the papers' soft labels")
    a("--hidden", type=int, default=32, help="hidden units n (default 32)")
    a("--alpha", type=float, default=1.0, help="leak alpha of the network (default 1)")
    a("--nonlinearity", choices=("tanh", "relu", "sigmoid"), default="tanh")
    a("--steps", type=int, default=None,
      help=f"training steps per stream (default {seq['steps']:,}; online {onl['steps']:,})")
    a("--batch", type=int, default=None, help=f"parallel streams B (default {seq['batch']}; online {onl['batch']})")
    a("--window", type=int, default=50, help="window length in steps, sequence mode (default 50)")
    a("--lr", type=float, default=None,
      help=f"learning rate: Adam, sequence mode (default {seq['lr']:g}); SGD, online mode (default {onl['lr']:g})")
    a("--seed", type=int, default=0, help="seed of the weights (and of the data: train 2*seed, test 2*seed+1)")
    a("--out", default="results", help="output folder for the PNG, CSV and JSON (default ./results)")
    a("--test-steps", type=int, default=10_000, help="steps per test stream (default 10,000)")
    a("--test-streams", type=int, default=8, help="test streams (default 8)")
    a("--eval-every", type=int, default=None, help="steps per stream between test evaluations "
                                                  "(default: steps/25, rounded up to whole windows)")
    a("--threads", type=int, default=1,
      help="torch CPU threads during the run (default 1: at n=32 each step is microseconds of work, "
           "and more threads only add synchronisation; 0 keeps torch's setting)")
    a("--no-progress", action="store_true", help="no progress bars")


def config_from_args(args: argparse.Namespace) -> CompareConfig:
    defaults = DEFAULTS[args.mode]
    pick = lambda value, name: defaults[name] if value is None else value  # noqa: E731
    rules_ = tuple(r.strip() for r in args.rules.split(",") if r.strip())
    return CompareConfig(mode=args.mode, rules=rules_, t1=args.t1, t2=args.t2, tau=args.tau,
                         deterministic=not args.sampled_labels, hidden=args.hidden, alpha=args.alpha,
                         nonlinearity=args.nonlinearity, steps=pick(args.steps, "steps"),
                         batch=pick(args.batch, "batch"), window=args.window, lr=pick(args.lr, "lr"),
                         seed=args.seed, test_steps=args.test_steps, test_streams=args.test_streams,
                         eval_every=args.eval_every, threads=args.threads or None)


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = compare(config, progress=not args.no_progress)
    report["wall_seconds"] = time.perf_counter() - started
    report["command"] = "python -m torch_local_rnn compare " + " ".join(getattr(args, "argv", []) or [])
    print(format_table(report))
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
