"""``python -m torch_local_rnn compare``: the same network trained by each rule, side by side, on any
task, over several seeds, runs in parallel, resumable.

Sequence mode (default): one pipeline for every rule with a sequence form, which differ only in
``LocalRNN(rule=...)``. B parallel streams of the task are cut into windows; for each window the
LocalRNN runs from the previous window's final state (detached), a readout nn.Linear(n, n_out) gives
the outputs, the loss is the task's mean per-step loss, ``loss.backward()`` asks the rule for the
recurrent weights' gradient, and torch.optim.Adam takes a step.

Online mode (``--mode online``): the papers' protocol (docs/algorithms.md §2.1): OnlineLearner with plain
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
import os
import sys
import time
from typing import Dict, List, Optional, Tuple

import torch

from .config import CompareConfig
from .report import build_report
from .store import check_run_files
from .train import run_one

NO_ONLINE_FORM = ("no online form: the exact gradient needs the future of the stream (BPTT); "
                  "run it with --mode sequence")
NO_SEQUENCE_FORM = ("no sequence form: the synthetic gradient reads the label online (DNI); "
                    "run it with --mode online")


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
