"""``python -m torch_local_rnn compare``: the same network trained by each rule, side by side, on any
task, over several seeds, runs in parallel, resumable.

Sequence mode (default): one pipeline for every rule with a sequence form, which differ only in
``LocalRNN(rule=...)``. B parallel streams of the task are cut into windows; for each window the
LocalRNN runs from the previous window's final state (detached), a readout nn.Linear(n, n_out) gives
the outputs, the loss is the task's mean per-step loss, ``loss.backward()`` asks the rule for the
recurrent weights' gradient, and torch.optim.Adam takes a step.

Online mode (``--mode online``): the papers' protocol (docs/algorithms.md §2.1): OnlineLearner with plain
SGD after every time step, for the rules that have an online form (dni and dni_b only run here).

Stacks (online mode, default; ``--no-stack`` turns them off): a rule's seeds, and its variants from ``--sweep``,
train as one OnlineEnsemble, one op call per chunk for all of them (train_stack.py); every run's result is
bitwise the one it has alone.

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

Where the runs execute (``--backend``, never what they compute): "local" (default) in ``--jobs``
processes of this machine; "ray" as Ray tasks, on a local Ray started on demand or on the cluster at
``--address`` (pip install 'torch-local-rnn[ray]'). ``--tensorboard DIR`` also writes each run's curves
as TensorBoard scalars to DIR/<rule>-seed<k> (pip install 'torch-local-rnn[tensorboard]').
"""
import contextlib
import os
import sys
from typing import Dict, List, Optional, Tuple

import torch

from .config import CompareConfig
from .parallel import run_tasks
from .ray_backend import require_ray
from .report import build_report
from .store import check_run_files
from .train import run_one
from .train_stack import run_stack, stack_key
from .worker import RunTask

NO_ONLINE_FORM = ("no online form: the exact gradient needs the future of the stream (BPTT); "
                  "run it with --mode sequence")
NO_SEQUENCE_FORM = ("no sequence form: the synthetic gradient reads the label online (DNI); "
                    "run it with --mode online")


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
    ``config.jobs`` processes of this machine or as Ray tasks (``config.backend``); returns the curves, their
    summary over seeds, the task's reference levels and the skipped rules. With ``out_dir`` the runs are saved
    and resumed (module docstring); runs stopped by ``stop_after`` are listed under "interrupted"."""
    task = config.task_instance()
    runs, skipped = plan_runs(config)
    if config.backend == "ray":
        require_ray()  # a missing ray is an error before anything runs
    states = {}
    if out_dir is not None:
        for rule, seed in runs:  # every mismatch is found before anything runs
            states[(rule, seed)] = check_run_files(config, rule, seed, out_dir)
    pending = [r for r in runs if states.get(r) != "finished"]
    jobs = int(config.jobs) if config.jobs else max(1, min(_cpu_count(), len(pending)))
    groups = plan_groups(config, pending, jobs)
    # Ray runs even a single run as a task: the cluster, not this machine, is where runs are meant to go.
    serial = config.backend == "local" and (jobs <= 1 or len(groups) <= 1)
    bar = progress_bar(len(runs) * config.steps, progress)
    results: Dict[Tuple[str, int], Optional[Dict]] = {}
    try:
        with _torch_threads(config.threads if serial else None):
            for rule, seed in runs:  # the finished runs (loaded)
                if (rule, seed) not in pending:
                    results[(rule, seed)] = run_one(config, rule, seed, out_dir, None if bar is None else bar.update)
            if serial:
                for group in groups:
                    if bar is not None:
                        bar.set_description(_describe(group))
                    update = None if bar is None else bar.update
                    if len(group) > 1:
                        results.update(zip(group, run_stack(config, group, out_dir, update, stop_after)))
                    else:
                        results[group[0]] = run_one(config, *group[0], out_dir, update, stop_after)
        if not serial and groups:
            tasks = [RunTask(config, *group[0], out_dir, stop_after, tuple(group) if len(group) > 1 else ())
                     for group in groups]
            limit = config.jobs if config.backend == "ray" else jobs  # Ray: default all at once, the cluster decides
            for group, result in zip(groups, run_tasks(tasks, config.backend, config.address, limit, bar)):
                results.update(zip(group, result if len(group) > 1 else [result]))
    finally:
        if bar is not None:
            bar.close()
    return build_report(config, task, runs, results, skipped)


def plan_groups(config: CompareConfig, pending: List[Tuple[str, int]], jobs: int) -> List[List[Tuple[str, int]]]:
    """The pending runs as groups: one run each, or in online mode with ``config.stack`` the runs whose rules can
    stack (train_stack.stack_key: a rule's seeds and its variants) as stacks, each split into as many stacks as it
    takes to give ``jobs`` processes work (a stack runs in one process)."""
    if config.mode != "online" or not config.stack:
        return [[run] for run in pending]
    by_key: Dict[Tuple, List[Tuple[str, int]]] = {}
    for rule, seed in pending:
        by_key.setdefault(stack_key(config, rule), []).append((rule, seed))
    parts = max(1, -(-int(jobs) // max(1, len(by_key))))  # stacks per key
    groups = []
    for runs in by_key.values():
        size = -(-len(runs) // min(parts, len(runs)))
        groups += [runs[i:i + size] for i in range(0, len(runs), size)]
    return groups


def _describe(group: List[Tuple[str, int]]) -> str:
    rules = list(dict.fromkeys(rule for rule, _ in group))
    seeds = sorted({seed for _, seed in group})
    which = str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}..{seeds[-1]}"
    return f"{'+'.join(rules) if len(rules) <= 2 else f'{rules[0]} +{len(rules) - 1}'} seed{'s' * (len(seeds) > 1)} {which}"


@contextlib.contextmanager
def _torch_threads(threads: Optional[int]):
    """torch's thread count set to ``threads`` (None: unchanged) inside, restored after."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def progress_bar(total: int, progress: bool):
    """A tqdm bar of ``total`` steps on stderr, or None without ``progress``."""
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="step", unit_scale=True, dynamic_ncols=True, file=sys.stderr)
