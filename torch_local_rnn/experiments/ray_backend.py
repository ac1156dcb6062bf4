"""``--backend ray [--address ADDR]``: each (rule, seed) run is a Ray task, on the cluster at ADDR or on a
local Ray that ray.init() starts on demand (kept for later compares in the same process, as Ray does).

Every node must have torch_local_rnn installed (a local Ray's workers import the same package as this
process: they start in its working directory with its sys.path). A task asks Ray for ``config.threads``
CPUs (default one) and runs with that many torch threads, as a worker of the local process pool does.

The run store: a worker writes checkpoints and finished runs to ``out_dir`` as a local run does; with a
cluster whose nodes do not share that folder, this process also writes each finished run's file from the
result it gets back, so a rerun loads it (checkpoints then stay on the nodes: an interrupted run starts
over, with the same result)."""
import os
from typing import Dict, List, Optional, Sequence

from .optional import require
from .worker import RunTask, execute
from .store import run_paths, save_result


def require_ray():
    """The ray module, or MissingDependencyError naming --backend ray and how to install ray."""
    return require("ray", "--backend ray", "ray")


class RayPool:
    """The interface of parallel.LocalPool over Ray tasks and a Ray queue for the progress messages."""

    def __init__(self, address: Optional[str]):
        self.ray = require_ray()
        if not self.ray.is_initialized():
            # A local Ray needs no dashboard (it only costs start-up time); a cluster has its own.
            self.ray.init(address=address, include_dashboard=False if address is None else None)
        from ray.util.queue import Queue
        self.messages = Queue()
        self.remote = self.ray.remote(execute)
        cpus = int(self.ray.cluster_resources().get("CPU", 0))
        self.description = f"Ray, {cpus} CPUs" + ("" if address is None else f" at {address}")

    def submit(self, task: RunTask):
        return self.remote.options(num_cpus=int(task.config.threads or 1)).remote(task, self.messages)

    def wait(self, handles: Sequence, timeout: float) -> List:
        ready, _ = self.ray.wait(list(handles), num_returns=len(handles), timeout=timeout)
        return ready

    def result(self, handle, task: RunTask) -> Optional[Dict]:
        result = self.ray.get(handle)  # re-raises a task's exception
        if result is not None and task.out_dir is not None:
            json_path, pt_path = run_paths(task.out_dir, task.rule, task.seed)
            if not os.path.exists(json_path):  # written on a node that does not share out_dir
                os.makedirs(os.path.dirname(json_path), exist_ok=True)
                save_result(json_path, pt_path, task.config.identity(task.rule, task.seed), result)
        return result

    def drain(self) -> int:
        count = self.messages.qsize()
        return sum(self.messages.get_nowait_batch(count)) if count else 0

    def close(self) -> None:
        self.messages.shutdown()
