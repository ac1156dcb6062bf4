"""The worker side of parallel runs: a RunTask (what run_one is called with) and ``execute``, which runs one in a
worker process or Ray task with its own torch threads and sends its progress to a queue."""
import time
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch

from .config import CompareConfig
from .train import run_one
from .train_stack import run_stack


@dataclass(frozen=True)
class RunTask:
    """One run, what run_one is called with in the worker; or, with ``stack``, the runs (rule, seed) of one stack
    (run_stack; its result is the list of their results)."""

    config: CompareConfig
    rule: str
    seed: int
    out_dir: Optional[str] = None
    stop_after: Optional[int] = None
    stack: Tuple[Tuple[str, int], ...] = ()


class ProgressSender:
    """A worker's progress callback: steps are summed and sent at most ~5 times a second (a message per
    window would flood the queue)."""

    def __init__(self, queue):
        self.queue, self.steps, self.last = queue, 0, time.monotonic()

    def __call__(self, steps: int) -> None:
        self.steps += steps
        if time.monotonic() - self.last > 0.2:
            self.flush()

    def flush(self) -> None:
        if self.steps:
            self.queue.put(self.steps)
        self.steps, self.last = 0, time.monotonic()


def execute(task: RunTask, queue) -> Optional[Dict]:
    """Runs ``task`` in a worker, its progress sent to ``queue``."""
    # Set for every task, not once per process: a Ray worker runs tasks of any config, and a grid's cells may
    # differ in threads.
    torch.set_num_threads(int(task.config.threads or 1))
    send = ProgressSender(queue)
    if task.stack:
        result = run_stack(task.config, task.stack, task.out_dir, send, task.stop_after)
    else:
        result = run_one(task.config, task.rule, task.seed, task.out_dir, send, task.stop_after)
    send.flush()
    return result
