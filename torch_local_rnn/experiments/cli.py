"""The command line of ``python -m torch_local_rnn compare`` and ``align``: their flags, the configs made from
them, and the commands (run, print the table, write the files)."""
import argparse
import os
import sys
import time
from typing import Any, Dict, Sequence, Tuple

from ..tasks import TASKS
from .align import align
from .config import ADD_SHORTCUTS, BACKENDS, DEFAULT_RULES, DEFAULTS, START_STATES, AlignConfig, CompareConfig
from .presets import PRESETS, describe_presets, preset_config
from .report import format_alignment_table, format_table, write_alignment_outputs, write_outputs
from .runner import compare
from .variants import expand_sweeps, parse_sweeps, parse_value
from .tensorboard_log import require_tensorboard, write_tensorboard


# ---------------------------------------------------------------------------- options
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


def split_rules(text: str) -> Tuple[str, ...]:
    return tuple(r.strip() for r in text.split(",") if r.strip())


# ---------------------------------------------------------------------------- compare
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


def add_backend_and_log_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the runs execute and the TensorBoard log: shared with examples/jmlr_grid.py and p1_dni_b.py."""
    a = parser.add_argument
    a("--backend", choices=BACKENDS, default="local",
      help="where the runs execute: local, processes of this machine (default); ray, Ray tasks on a local Ray "
           "started on demand or on the cluster at --address (pip install 'torch-local-rnn[ray]'); "
           "the results are the same")
    a("--address", default=None, help="with --backend ray: the Ray cluster's address (e.g. ray://head:10001 or "
                                      "auto); default: a local Ray")
    a("--tensorboard", default=None, metavar="DIR",
      help="also write each run's test and train loss curves as TensorBoard scalars to DIR/<rule>-seed<k> "
           "(pip install 'torch-local-rnn[tensorboard]')")


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
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
      help="processes running (rule, seed) runs in parallel (default: min(CPUs, runs to do)); with --backend ray, "
           "the most Ray tasks at a time (default: all, as the cluster's CPUs allow)")
    add_backend_and_log_arguments(parser)
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
    a("--l2", type=float, help="L2 on the weight matrices (online: in the SGD step; sequence: Adam's weight_decay; "
                               "default 0)")
    a("--initial-state", choices=START_STATES,
      help="online mode: the network's state at the start of training (default zeros; random: the 2019 code's)")
    a("--test-state", choices=START_STATES, help="where every test stream starts (default zeros)")
    a("--stop-below", type=float, default=None,
      help="stop a run at its first test evaluation below this loss (the 2019 protocol; default: never)")
    a("--sweep", action="append", default=[], metavar="RULE.OPTION=V1,V2,...",
      help="runs the rule once per value (a product over several options of one rule), as rules named "
           "RULE@OPTION=V (e.g. --sweep kernl.lr=0,1,5 -> kernl@lr=0, kernl@lr=1, kernl@lr=5); online, they stack "
           "with each other and the seeds")
    a("--no-stack", action="store_true",
      help="online mode: train each (rule, seed) run alone instead of a rule's seeds as one stack (the same results)")
    a("--preset", choices=sorted(PRESETS), default=None,
      help="a paper's configuration (task, network, protocol, rules with the papers' settings; flags given "
           "explicitly win, --rule-option adds): " + describe_presets())
    # Flags a preset may set are None unless given, so that an explicit flag wins over the preset and, without a
    # preset, the defaults in FLAG_DEFAULTS apply (the help texts give them).
    parser.set_defaults(**{name: None for name in FLAG_DEFAULTS})


# compare's flags whose default applies only without a preset (None in the parsed arguments unless given).
FLAG_DEFAULTS = dict(mode="sequence", rules="bptt,rflo", task="add", hidden=32, alpha=1.0, test_steps=10_000,
                     test_streams=8, l2=0.0, initial_state="zeros", test_state="zeros")


def compare_config_from_args(args: argparse.Namespace) -> CompareConfig:
    given = {name: getattr(args, name) for name in FLAG_DEFAULTS if getattr(args, name) is not None}
    if "rules" in given:
        given["rules"] = split_rules(given["rules"])
    sweeps = parse_sweeps(args.sweep)
    task_options = parse_assignments(args.task_option, "--task-option")
    shortcuts = dict(t1=args.t1, t2=args.t2, tau=args.tau, deterministic=False if args.sampled_labels else None)
    given.update(task_options=task_options, rule_options=parse_rule_options(args.rule_option),
                 nonlinearity=args.nonlinearity, window=args.window, seed=args.seed, seeds=args.seeds,
                 threads=args.threads or None, jobs=args.jobs, checkpoint_every=args.checkpoint_every,
                 backend=args.backend, address=args.address, stack=not args.no_stack)
    for name in ("steps", "batch", "lr", "eval_every", "stop_below"):
        if getattr(args, name) is not None:
            given[name] = getattr(args, name)
    if args.preset is not None:  # the preset's task options hold the add shortcuts: explicit ones override them
        task_options.update({k: v for k, v in shortcuts.items() if v is not None})
        if sweeps:
            given["rules"] = expand_sweeps(given.get("rules") or preset_config(args.preset).rules, sweeps)
        return preset_config(args.preset, **given)
    mode = given.setdefault("mode", FLAG_DEFAULTS["mode"])
    for name, value in FLAG_DEFAULTS.items():
        given.setdefault(name, split_rules(value) if name == "rules" else value)
    for name in ("steps", "batch", "lr"):
        given.setdefault(name, DEFAULTS[mode][name])
    given["rules"] = expand_sweeps(given["rules"], sweeps)
    return CompareConfig(**given, **{k: shortcuts[k] for k in ADD_SHORTCUTS})


def run_compare(args: argparse.Namespace) -> int:
    try:
        config = compare_config_from_args(args)
        if args.stop_after is not None and args.stop_after < 1:
            raise ValueError(f"compare: expected stop_after >= 1, but got {args.stop_after}")
        if args.tensorboard is not None:
            require_tensorboard()  # before the runs, not after them
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
    written = [paths["png"], paths["csv"], paths["json"]]
    if args.tensorboard is not None:
        write_tensorboard(report, args.tensorboard)
        written.append(f"TensorBoard logs in {args.tensorboard} (tensorboard --logdir {args.tensorboard})")
    print(f"\nwrote {', '.join(written)} ({report['wall_seconds']:.1f} s in all)")
    return 0


# ---------------------------------------------------------------------------- align
def add_align_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--rules", default=",".join(DEFAULT_RULES), help=f"comma-separated rules (default: {','.join(DEFAULT_RULES)})")
    a("--train-rule", default="rtrl",
      help="the online rule that trains the network (default rtrl: the exact online gradient; f_bptt is faster)")
    add_common_arguments(parser)
    a("--steps", type=int, default=100_000, help="training steps (default 100,000)")
    a("--points", type=int, default=21, help="measurement points K, from step 0 to the end (default 21)")
    a("--window", type=int, default=50, help="steps W of the loss each gradient is of (default 50)")
    a("--lr", type=float, default=1e-3, help="online SGD learning rate of the training (default 1e-3)")
    a("--batch", type=int, default=1, help="parallel streams B (default 1, the papers' protocol)")
    a("--seed", type=int, default=0, help="seed of the weights and the data (default 0)")
    a("--units", type=int, default=4, help="units shown in the DNI credit plot (default 4)")
    a("--out", default="results", help="output folder (default ./results)")


def align_config_from_args(args: argparse.Namespace) -> AlignConfig:
    return AlignConfig(task=args.task, task_options=parse_assignments(args.task_option, "--task-option"),
                       rules=split_rules(args.rules), rule_options=parse_rule_options(args.rule_option),
                       train_rule=args.train_rule, hidden=args.hidden, alpha=args.alpha,
                       nonlinearity=args.nonlinearity, steps=args.steps, points=args.points, window=args.window,
                       lr=args.lr, batch=args.batch, seed=args.seed, units=args.units, threads=args.threads or None)


def run_align(args: argparse.Namespace) -> int:
    try:
        config = align_config_from_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = align(config, progress=not args.no_progress)
    print(format_alignment_table(report))
    paths = write_alignment_outputs(report, args.out)
    print(f"\nwrote {', '.join(paths.values())} ({report['seconds']:.1f} s)")
    return 0
