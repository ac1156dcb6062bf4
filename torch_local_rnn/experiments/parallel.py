"""Many (rule, seed) runs at once, in worker processes of this machine (a process pool) or as Ray tasks
(ray_backend), with the workers' progress sent back through a queue to the caller's progress bar.

A run is a RunTask; ``run_tasks`` returns the results in the order of the tasks (None for a run that
``stop_after`` stopped at a checkpoint). Each worker calls run_one with the task's out_dir, exactly as a
serial run does, so it loads a finished run, resumes from a checkpoint and saves its result itself, and
runs with ``config.threads`` torch threads (default one: at n=32 each step is microseconds of work, and
more threads only add synchronisation); the results do not depend on where a run executes."""
import concurrent.futures as futures
import multiprocessing as mp
import queue as queue_module
from typing import Dict, List, Optional, Sequence

import torch

from .worker import RunTask, execute


# ---------------------------------------------------------------------------- local processes
_WORKER_QUEUE = None


def _init_worker(queue) -> None:
    """Each pool process starts with one torch thread (execute sets the task's own) and the progress queue,
    which a process can only inherit, not receive with a task."""
    global _WORKER_QUEUE
    _WORKER_QUEUE = queue
    torch.set_num_threads(1)


def _local_worker(task: RunTask) -> Optional[Dict]:
    return execute(task, _WORKER_QUEUE)


class LocalPool:
    """``processes`` spawned worker processes (concurrent.futures.ProcessPoolExecutor)."""

    def __init__(self, processes: int):
        ctx = mp.get_context("spawn")  # no fork: the parent's OpenMP threads must not leak into the workers
        self.messages = ctx.Queue()
        self.executor = futures.ProcessPoolExecutor(processes, mp_context=ctx, initializer=_init_worker,
                                                    initargs=(self.messages,))
        self.description = f"{processes} process{'es' if processes > 1 else ''}"

    def submit(self, task: RunTask):
        return self.executor.submit(_local_worker, task)

    def wait(self, handles: Sequence, timeout: float) -> List:
        return list(futures.wait(handles, timeout=timeout, return_when=futures.FIRST_COMPLETED).done)

    def result(self, handle, task: RunTask) -> Optional[Dict]:
        return handle.result()  # re-raises a worker's exception

    def drain(self) -> int:
        steps = 0
        try:
            while True:
                steps += self.messages.get_nowait()
        except queue_module.Empty:
            return steps

    def close(self) -> None:
        self.executor.shutdown(cancel_futures=True)


def run_tasks(tasks: Sequence[RunTask], backend: str = "local", address: Optional[str] = None,
              jobs: Optional[int] = None, bar=None) -> List[Optional[Dict]]:
    """Runs ``tasks`` on ``backend`` ("local": a pool of ``jobs`` processes, default one per task; "ray": Ray
    tasks on the cluster at ``address`` or on a local Ray started on demand, at most ``jobs`` at a time,
    default all); the results in the order of the tasks. ``bar``: a tqdm bar advanced by the steps done."""
    if not tasks:  # nothing to start a pool or a Ray for
        return []
    if backend == "ray":
        from .ray_backend import RayPool
        pool = RayPool(address)
    else:
        pool = LocalPool(min(int(jobs or len(tasks)), len(tasks)))
    limit = int(jobs) if jobs else len(tasks)
    if bar is not None:
        bar.set_description(f"{len(tasks)} runs, {pool.description}")
    results: List[Optional[Dict]] = [None] * len(tasks)
    waiting = list(range(len(tasks)))
    running: Dict = {}  # handle -> index of its task
    try:
        while waiting or running:
            while waiting and len(running) < limit:  # Ray would start them all; --jobs caps them
                index = waiting.pop(0)
                running[pool.submit(tasks[index])] = index
            finished = pool.wait(list(running), timeout=0.1)
            if bar is not None:
                bar.update(pool.drain())
            for handle in finished:
                index = running.pop(handle)
                results[index] = pool.result(handle, tasks[index])
        if bar is not None:
            bar.update(pool.drain())
    finally:
        pool.close()
    return results
