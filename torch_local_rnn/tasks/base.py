"""What every task shares: the ``Task`` base class (seed handling, argument checks, ``stream``,
``generate``, ``dataset``, ``repr``), block-wise random draws that make chunking invisible, and
``TaskStream`` (any task's stream as an IterableDataset).

A task produces a stream chunk by chunk: ``stream`` yields (x, y), Tensor[c, batch, input_size]
and Tensor[c, batch, output_size], c = chunk_size (the last chunk shorter). Whatever is carried
across chunk boundaries (generator state, last samples, a hidden state, the trial in progress) is
carried, so the concatenation of the chunks is one long stream whatever the chunk size, and memory
is O(chunk_size), not O(steps).
"""
import math
import numbers
from typing import Callable, Dict, Iterator, Optional, Tuple

import torch
from torch import Tensor

Chunk = Tuple[Tensor, Tensor]

# Random values are drawn in blocks of about this many numbers (see BlockDraws); part of the draw
# order of the tasks that use BlockDraws, so changing it changes their streams.
BLOCK_VALUES = 2 ** 16


def binary_entropy(p: float) -> float:
    """H(p) in nats (H(0) = H(1) = 0)."""
    return -sum(q * math.log(q) for q in (p, 1.0 - p) if q > 0.0)


def check_int(value, name: str, who: str, minimum: Optional[int] = None) -> int:
    """``value`` as an int (an integral float is accepted); ValueError naming ``name`` otherwise."""
    ok = (isinstance(value, numbers.Integral) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())
    if ok and (minimum is None or int(value) >= minimum):
        return int(value)
    expected = "an integer" if minimum is None else f"an integer >= {minimum}"
    raise ValueError(f"{who}: expected {name} to be {expected}, but got {value!r}")


def check_real(value, name: str, who: str, low: float = -math.inf, high: float = math.inf,
               open_low: bool = False, open_high: bool = False) -> float:
    """``value`` as a finite float in the interval given; ValueError naming ``name`` otherwise."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        v = float(value)
        if (v > low if open_low else v >= low) and (v < high if open_high else v <= high):
            return v
    if math.isinf(low) and math.isinf(high):
        where = ""
    elif math.isinf(high):
        where = f" {'>' if open_low else '>='} {low:g}"
    elif math.isinf(low):
        where = f" {'<' if open_high else '<='} {high:g}"
    else:
        where = f" in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    raise ValueError(f"{who}: expected {name} to be a finite number{where}, but got {value!r}")


def _generator(seed, generator: Optional[torch.Generator], who: str) -> torch.Generator:
    if generator is not None:
        if seed is not None:
            raise ValueError(f"{who}: pass either seed or generator, not both, but got seed={seed!r} "
                             f"and a generator")
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"{who}: expected generator to be a torch.Generator, but got "
                             f"{type(generator).__name__}")
        return generator
    g = torch.Generator()
    g.manual_seed(0 if seed is None else check_int(seed, "seed", who))
    return g


def block_items(batch: int, width: int) -> int:
    """Items per block of BlockDraws for items of ``batch * width`` random numbers each."""
    return max(1, BLOCK_VALUES // max(1, batch * width))


class BlockDraws:
    """The random values of items 0, 1, 2, ... (samples or trials) of a stream.

    ``draw(n)`` draws the values of n items from the task's generator; it is always called with
    n = ``block`` (a number fixed by the task and the batch, never by the chunk size), so the
    generator calls, hence the values, are the same however the stream is chunked. ``take``
    keeps at most the items of the chunk in progress plus one or two blocks.
    """

    def __init__(self, draw: Callable[[int], Tensor], block: int):
        self.draw, self.block = draw, block
        self.start = 0  # item index of buffer[0]
        self.buffer: Optional[Tensor] = None

    def take(self, first: int, stop: int) -> Tensor:
        """Values of items first .. stop - 1 (``first`` never decreases from one call to the next)."""
        kept = [] if self.buffer is None else [self.buffer[max(0, first - self.start):]]
        self.start = max(self.start, first) if kept else 0
        have = self.start + sum(b.shape[0] for b in kept)
        new = []
        while have < stop:
            new.append(self.draw(self.block))
            have += self.block
        self.buffer = torch.cat(kept + new) if new else kept[0]
        return self.buffer[first - self.start:stop - self.start]


class Task:
    """Base class of the tasks. A subclass sets ``loss`` ('cross_entropy' or 'mse'),
    ``input_size``, ``output_size``, ``_fields`` (the constructor arguments ``repr`` shows), and
    implements ``_chunks(steps, batch, chunk_size, generator, dtype, device)``; it may override
    ``reference_levels`` (test-loss levels in the loss's units per step, only where they are
    exactly computable)."""

    loss: str = "mse"
    input_size: int
    output_size: int
    _fields: Tuple[str, ...] = ()

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({args})"

    @property
    def reference_levels(self) -> Dict[str, float]:
        """Exactly computable test-loss levels (none by default)."""
        return {}

    def stream(self, steps: int, batch: int = 1, chunk_size: int = 1000, seed: Optional[int] = None,
               generator: Optional[torch.Generator] = None, dtype: torch.dtype = torch.float32,
               device=None) -> Iterator[Chunk]:
        """Yields (x, y) chunks, Tensor[c, batch, input_size] and Tensor[c, batch, output_size],
        c = chunk_size (the last one shorter), covering ``steps`` time steps of ``batch``
        independent streams. The stream is a function of ``seed`` (default 0); a ``generator``
        passed instead is advanced as the chunks are drawn."""
        who = f"{type(self).__name__}.stream"
        steps = check_int(steps, "steps", who, 0)
        batch = check_int(batch, "batch", who, 1)
        chunk_size = check_int(chunk_size, "chunk_size", who, 1)
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"{who}: expected dtype to be a floating-point torch.dtype, but got {dtype!r}")
        if device is not None:
            try:
                device = torch.device(device)
            except (RuntimeError, TypeError) as error:
                raise ValueError(f"{who}: expected device to be a torch.device or a device string, "
                                 f"but got {device!r}") from error
        g = _generator(seed, generator, who)  # checked now, not at the first chunk
        return self._chunks(steps, batch, chunk_size, g, dtype, device)

    def _chunks(self, steps: int, batch: int, chunk_size: int, g: torch.Generator, dtype: torch.dtype,
                device) -> Iterator[Chunk]:
        raise NotImplementedError

    def generate(self, steps: int, batch: int = 1, seed: Optional[int] = None,
                 generator: Optional[torch.Generator] = None, dtype: torch.dtype = torch.float32,
                 device=None) -> Chunk:
        """The whole stream at once: (x, y), Tensor[steps, batch, input_size / output_size]
        (the same values as concatenating ``stream``'s chunks)."""
        chunks = list(self.stream(steps, batch, chunk_size=max(1, min(int(steps), 100_000)), seed=seed,
                                  generator=generator, dtype=dtype, device=device))
        if not chunks:
            return (torch.empty(0, int(batch), self.input_size, dtype=dtype, device=device),
                    torch.empty(0, int(batch), self.output_size, dtype=dtype, device=device))
        return torch.cat([c[0] for c in chunks]), torch.cat([c[1] for c in chunks])

    def dataset(self, steps: int, batch: int = 1, chunk_size: int = 1000, seed: int = 0,
                dtype: torch.dtype = torch.float32) -> "TaskStream":
        """The stream as a torch.utils.data.IterableDataset of (x, y) chunks."""
        return TaskStream(self, steps, batch, chunk_size, seed, dtype)


class TaskStream(torch.utils.data.IterableDataset):
    """A task's stream as an IterableDataset yielding (x, y) chunks,
    Tensor[c, batch, task.input_size] and Tensor[c, batch, task.output_size].

        loader = DataLoader(AddTask(5, 9).dataset(steps, batch=32, chunk_size=50), batch_size=None)

    Use ``batch_size=None`` (the chunks are already batched). Iterating again restarts the same
    stream. With ``num_workers=W`` each worker generates the whole stream and yields every W-th
    chunk; the DataLoader's round-robin order then gives back the chunks in stream order.
    """

    def __init__(self, task: Task, steps: int, batch: int = 1, chunk_size: int = 1000, seed: int = 0,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        who = "TaskStream"
        if not isinstance(task, Task):
            raise ValueError(f"{who}: expected task to be a Task, but got {type(task).__name__}")
        self.task, self.steps = task, check_int(steps, "steps", who, 0)
        self.batch, self.chunk_size = check_int(batch, "batch", who, 1), check_int(chunk_size, "chunk_size", who, 1)
        self.seed, self.dtype = check_int(seed, "seed", who), dtype

    @property
    def input_size(self) -> int:
        return self.task.input_size

    @property
    def output_size(self) -> int:
        return self.task.output_size

    def __len__(self) -> int:
        return -(-self.steps // self.chunk_size)

    def __iter__(self) -> Iterator[Chunk]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        chunks = self.task.stream(self.steps, self.batch, self.chunk_size, seed=self.seed, dtype=self.dtype)
        for k, chunk in enumerate(chunks):
            if k % workers == worker:
                yield chunk
