"""Shared by jmlr_grid.py and p1_dni_b.py: a grid of ``compare()`` cells, each with an output folder of
its own (OUT/<cell>), so an interrupted grid resumes from the finished runs (and from checkpoints).

Parallelism (``--jobs J``): with at least J cells still to train, J processes each run whole cells
(compare with one process); with fewer, the cells run one after the other, each with its (rule, seed)
runs in J processes. With ``--backend ray`` every run still to do, of every cell, is a Ray task from the
start (at most J at a time when J is given), so a cluster is not held up by a cell's slowest run; then
each cell's compare loads its runs. Either way every run has one torch thread, and the results depend
neither on J nor on the backend. ``--tensorboard DIR`` logs each cell's runs under DIR/<cell>.
"""
import csv
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from torch_local_rnn.experiments.config import CompareConfig
from torch_local_rnn.experiments.parallel import run_tasks
from torch_local_rnn.experiments.ray_backend import require_ray
from torch_local_rnn.experiments.report import write_outputs
from torch_local_rnn.experiments.runner import compare, plan_runs, progress_bar
from torch_local_rnn.experiments.store import ConfigMismatchError, check_run_files
from torch_local_rnn.experiments.tensorboard_log import require_tensorboard, write_tensorboard
from torch_local_rnn.experiments.worker import RunTask


@dataclass
class Cell:
    """One point of the grid: its folder name under OUT, its compare config and what labels it."""

    name: str
    config: CompareConfig
    labels: Dict = field(default_factory=dict)


def parse_int_list(text: str, flag: str) -> List[int]:
    """'0-9' -> [0, ..., 9]; '0,3,6,9' -> [0, 3, 6, 9]; '0-2,7' -> [0, 1, 2, 7] (sorted, no repeats; >= 0)."""
    values = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            low, dash, high = part.partition("-")
            low, high = int(low), int(high) if dash else int(low)
            if low < 0 or high < low:
                raise ValueError
            values.extend(range(low, high + 1))
    except ValueError:
        raise SystemExit(f"error: {flag}: expected integers >= 0 like 0-9 or 0,3,6,9, but got '{text}'")
    if not values:
        raise SystemExit(f"error: {flag}: expected at least one value, but got '{text}'")
    return sorted(set(values))


def split_list(text: str) -> Tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _states(cell: Cell, out: str) -> Dict[str, int]:
    """How many of the cell's runs are finished, checkpointed, to do (a config mismatch raises here)."""
    runs, _ = plan_runs(cell.config)
    counts = {"runs": len(runs), "finished": 0, "checkpoint": 0}
    for rule, seed in runs:
        state = check_run_files(cell.config, rule, seed, os.path.join(out, cell.name))
        if state is not None:
            counts[state] += 1
    return counts


def _pending_runs(cell: Cell, out: str) -> List[RunTask]:
    folder = os.path.join(out, cell.name)
    return [RunTask(cell.config, rule, seed, folder) for rule, seed in plan_runs(cell.config)[0]
            if check_run_files(cell.config, rule, seed, folder) != "finished"]


def _run_cell(cell: Cell, out: str, progress: bool, tensorboard: Optional[str]) -> Tuple[str, Dict, Dict]:
    """compare() on the cell (loads what is finished), then its own curves into OUT/<cell> (and its
    TensorBoard logs into TENSORBOARD/<cell>)."""
    folder = os.path.join(out, cell.name)
    started = time.perf_counter()
    report = compare(cell.config, progress=progress, out_dir=folder)
    train_seconds = time.perf_counter() - started
    write_outputs(report, folder)
    if tensorboard is not None:
        write_tensorboard(report, os.path.join(tensorboard, cell.name))
    timing = {"wall_seconds": time.perf_counter() - started, "train_wall_seconds": train_seconds,
              "run_seconds": sum(s["seconds_total"] for s in report["summary"].values())}
    return cell.name, report, timing


def _init_worker() -> None:
    torch.set_num_threads(1)


def _cell_worker(args) -> Tuple[str, Dict, Dict]:
    cell, out, tensorboard = args
    return _run_cell(cell, out, False, tensorboard)


def run_cells(cells: Sequence[Cell], out: str, jobs: Optional[int], progress: bool = True,
              log: Callable[[str], None] = print, tensorboard: Optional[str] = None) -> Tuple[Dict[str, Dict], Dict]:
    """Runs (or loads) every cell, where the cells' configs say (all the same backend); returns ({cell name:
    report}, timing). ``jobs`` None: min(CPUs, runs still to do); with Ray, all runs at once."""
    started = time.perf_counter()
    backend, address = cells[0].config.backend, cells[0].config.address
    if backend == "ray":
        require_ray()  # before anything runs or is written
    os.makedirs(out, exist_ok=True)
    states = {c.name: _states(c, out) for c in cells}  # every mismatch is found before anything runs
    todo = [c for c in cells if states[c.name]["finished"] < states[c.name]["runs"]]
    todo_names = {c.name for c in todo}
    pending_runs = sum(states[c.name]["runs"] - states[c.name]["finished"] for c in cells)
    ray_jobs = jobs
    jobs = max(1, int(jobs) if jobs else min(cpu_count(), max(1, pending_runs)))
    by_cells = backend == "local" and jobs > 1 and len(todo) >= jobs
    how = ("every run still to do a Ray task" + (f", at most {ray_jobs} at a time" if ray_jobs else "")
           if backend == "ray" else f"{jobs} processes over cells" if by_cells else
           f"cells one after the other, {jobs} process{'es' if jobs > 1 else ''} over each cell's runs")
    log(f"{len(cells)} cells, {sum(s['runs'] for s in states.values())} runs "
        f"({sum(s['finished'] for s in states.values())} finished before, "
        f"{sum(s['checkpoint'] for s in states.values())} resumed from checkpoints); {how}")
    reports: Dict[str, Dict] = {}
    timings: Dict[str, Dict] = {}
    order = {c.name: k for k, c in enumerate(cells)}

    def done(name: str, report: Dict, timing: Dict) -> None:
        reports[name], timings[name] = report, {**timing, **states[name],
                                                "trained": states[name]["runs"] - states[name]["finished"]}
        t = timings[name]
        log(f"[{len(reports)}/{len(cells)}] {name}: {t['wall_seconds']:.1f} s wall "
            f"({t['runs']} runs: {t['trained']} trained, {t['finished']} loaded; {t['run_seconds']:.1f} s of run time)")

    ray_seconds = 0.0
    if backend == "ray":
        ray_started = time.perf_counter()
        tasks = [task for cell in todo for task in _pending_runs(cell, out)]
        bar = progress_bar(sum(t.config.steps for t in tasks), progress and sys.stderr.isatty())
        try:
            run_tasks(tasks, "ray", address, ray_jobs, bar)
        finally:
            if bar is not None:
                bar.close()
        ray_seconds = time.perf_counter() - ray_started
        log(f"Ray: {len(tasks)} runs of {len(todo)} cells in {ray_seconds:.1f} s; the cells load them")
        for cell in cells:
            done(*_run_cell(cell, out, False, tensorboard))
    elif by_cells:
        import multiprocessing as mp
        for cell in cells:  # the finished cells only load their runs: here, at once
            if cell.name not in todo_names:
                done(*_run_cell(cell, out, False, tensorboard))
        ctx = mp.get_context("spawn")  # no fork: the parent's OpenMP threads must not leak into the workers
        single = [dataclasses.replace(c, config=dataclasses.replace(c.config, jobs=1)) for c in todo]
        with ctx.Pool(min(jobs, len(single)), initializer=_init_worker) as pool:
            for result in pool.imap_unordered(_cell_worker, [(c, out, tensorboard) for c in single]):
                done(*result)
    else:
        for cell in cells:
            cell = dataclasses.replace(cell, config=dataclasses.replace(cell.config, jobs=jobs))
            done(*_run_cell(cell, out, progress and cell.name in todo_names and sys.stderr.isatty(), tensorboard))
    reports = {c.name: reports[c.name] for c in sorted(cells, key=lambda c: order[c.name])}
    timing = {"cells": {c.name: timings[c.name] for c in cells}, "jobs": jobs,
              "parallel": "ray" if backend == "ray" else "cells" if by_cells else "runs",
              "wall_seconds": time.perf_counter() - started,
              # with Ray the runs are trained before the cells, which only load them
              "train_wall_seconds": ray_seconds + sum(t["train_wall_seconds"] for t in timings.values()),
              "run_seconds": sum(t["run_seconds"] for t in timings.values()),
              "runs": sum(t["runs"] for t in timings.values()),
              "trained": sum(t["trained"] for t in timings.values())}
    return reports, timing


def fmt_mean_sd(mean: float, sd: float) -> str:
    if not math.isfinite(mean):
        return "diverged"
    return f"{mean:#.4g} ± {sd:#.2g}"


def csv_number(value: float) -> str:
    return repr(float(value))


def summary_row(summary: Dict) -> Dict:
    """The per-(cell, rule) numbers of the CSVs."""
    return {"seeds": summary["n"], "final_mean": csv_number(summary["final_mean"]),
            "final_sd": csv_number(summary["final_sd"]), "best_mean": csv_number(summary["best_mean"]),
            "seconds": csv_number(summary["seconds_total"]), "diverged": summary["diverged"]}


def apply_defaults(args, quick: Dict, full: Dict) -> None:
    """Fills the flags left unset from the quick or full defaults; quick mode runs locally in one process (a
    few seconds of work: starting processes would cost more than it saves; with Ray, the workers are there)."""
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.jobs is None and args.quick and args.backend == "local":
        args.jobs = 1


def write_summary_csv(cells: Sequence[Cell], reports: Dict, path: str) -> None:
    """One row per (cell, rule): the cell's labels, then summary_row's numbers."""
    keys = list(cells[0].labels) + ["rule", "seeds", "final_mean", "final_sd", "best_mean", "seconds", "diverged"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for cell in cells:
            for rule, summary in reports[cell.name]["summary"].items():
                writer.writerow({**cell.labels, "rule": rule, **summary_row(summary)})


def finish(args, timing: Dict, paths: Dict[str, str], text: str, started: float) -> None:
    """Writes OUT/timing.json (with the total wall time, the command and the mode) and prints the tables,
    the wall time of each cell and in all, and the files written."""
    timing["total_wall_seconds"] = time.perf_counter() - started
    timing["command"] = " ".join([os.path.basename(sys.executable), *sys.argv])
    timing["quick"] = bool(args.quick)
    paths["timing"] = os.path.join(args.out, "timing.json")
    with open(paths["timing"], "w") as f:
        json.dump(timing, f, indent=1)
    print()
    print(text)
    print("wall time per cell: " + ", ".join(f"{name} {t['wall_seconds']:.1f} s"
                                             for name, t in timing["cells"].items()))
    print(f"in all: {timing['total_wall_seconds']:.1f} s wall ({timing['trained']} of {timing['runs']} runs trained "
          f"now, {timing['run_seconds']:.1f} s of run time in all)")
    print(f"wrote {', '.join(paths.values())}")


def grid_main(args, make_cells: Callable, prefix: str, report: Callable) -> int:
    """The main of an experiment script: runs its cells (one torch thread each; a bad option or a run file of
    another configuration is an error, exit 2), then report(cells, reports, timing, paths) writes the script's
    own plots (adding to paths and timing) and returns its markdown, and the summary CSV, OUT/<prefix>.md and
    timing.json are written and the tables printed."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    try:
        cells = [dataclasses.replace(c, config=dataclasses.replace(c.config, backend=args.backend,
                                                                     address=args.address)) for c in make_cells(args)]
        if args.tensorboard is not None:
            require_tensorboard()  # before the runs, not after them
        reports, timing = run_cells(cells, args.out, args.jobs, progress=not args.no_progress,
                                    tensorboard=args.tensorboard)
    except (ValueError, ConfigMismatchError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paths = {k: os.path.join(args.out, f"{prefix}.{k}") for k in ("csv", "md", "png")}
    text = report(cells, reports, timing, paths)
    write_summary_csv(cells, reports, paths["csv"])
    with open(paths["md"], "w") as f:
        f.write(text)
    finish(args, timing, paths, text, started)
    return 0
