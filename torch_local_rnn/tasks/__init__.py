"""Tasks (docs/algorithms.md §5 and classic memory probes), generated as streams from a seed
(torch.Generator):

    task = AddTask(t1=5, t2=9)
    for x, y in task.stream(steps=100_000, batch=32, chunk_size=50, seed=0):
        ...  # x: Tensor[chunk, B, task.input_size], y: Tensor[chunk, B, task.output_size]

A stream is produced chunk by chunk: the generator state and whatever the task carries (last
samples, a hidden state, the trial in progress) are carried across chunk boundaries, so the
concatenation of the chunks is one long stream whatever the chunk size. Every task knows its
``loss`` ('cross_entropy' or 'mse'), ``input_size``, ``output_size`` and its exactly computable
``reference_levels``. ``make_task(name, **options)`` builds one by its name in ``TASKS``.
"""
import inspect
from typing import Dict, Type

from .add import AddTask
from .base import Task, TaskStream, binary_entropy
from .copy import CopyTask
from .dms import DelayedMatchToSampleTask
from .flip_flop import FlipFlopTask
from .mimic import MimicTask
from .sine import SineWaveTask

TASKS: Dict[str, Type[Task]] = {"add": AddTask, "mimic": MimicTask, "copy": CopyTask, "flip_flop": FlipFlopTask,
                                "dms": DelayedMatchToSampleTask, "sine": SineWaveTask}


def make_task(name: str, **options) -> Task:
    """The task registered as ``name`` in TASKS, built with ``options`` (its constructor's
    keyword arguments)."""
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"make_task: expected name to be one of {sorted(TASKS)}, but got {name!r}")
    cls = TASKS[name]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"make_task: expected options of '{name}' ({cls.__name__}) among {allowed}, "
                         f"but got {unknown}")
    return cls(**options)


__all__ = ["AddTask", "MimicTask", "CopyTask", "FlipFlopTask", "DelayedMatchToSampleTask", "SineWaveTask",
           "Task", "TaskStream", "binary_entropy", "TASKS", "make_task"]
