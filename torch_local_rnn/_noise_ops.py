"""The counter-based noise of the stochastic rules (docs/algorithms.md §2.5; csrc/common/philox.h): nu_i =
draw(kind, seed, offset + i) of Philox4x32-10, the same on every backend and independent of how a sequence is cut
into calls. The op wrappers and their fakes (ops.py re-exports the public names)."""
from typing import List, Optional

import torch
from torch import Tensor

from ._checks import _DTYPES, _fail, _register_fake, _shape_str

# The noise kinds; their index is their code in a noise counter [seed, offset, kind] (philox::NoiseKind).
NOISE_KINDS = ("discrete", "gaussian", "uniform")


def _check_kind(op: str, kind: str) -> None:
    if kind not in NOISE_KINDS:
        _fail(op, f"expected kind to be one of {', '.join(repr(c) for c in NOISE_KINDS)}, but got '{kind}'")


def noise_from_counter(kind: str, seed: int, offset: int, shape: List[int], dtype: Optional[torch.dtype] = None,
                       device: Optional[torch.device] = None) -> Tensor:
    """nu of ``shape`` (float64 unless ``dtype``): element i (row-major) is draw(kind, seed, offset + i). The
    draws a stochastic rule reads from the noise counter [seed, offset, kind]: what drives the Python references
    with the op's nu. kind "discrete" (+-1), "gaussian" N(0, 1), "uniform" U(-1, 1)."""
    out = torch.empty(shape, dtype=torch.float64 if dtype is None else dtype, device=device)
    torch.ops.torch_local_rnn.noise_from_counter(out, kind, int(seed), int(offset))
    return out


@_register_fake("noise_from_counter")
def _noise_from_counter_fake(out, kind, seed, offset):
    op = "noise_from_counter"  # csrc/common/noise.cpp's checks, in its order
    _check_kind(op, kind)
    if out.dtype not in (torch.float32, torch.float64):
        _fail(op, f"expected out to be float32 or float64, but got {_DTYPES.get(out.dtype, out.dtype)}")
    if not out.is_contiguous():
        _fail(op, "expected out to be contiguous (it is filled in place)")
    for name, v in (("seed", seed), ("offset", offset)):
        if v < 0:
            _fail(op, f"expected {name} >= 0, but got {v}")


def noise_counter(kind: str, seed: int, offset: int, device: Optional[torch.device] = None) -> Tensor:
    """The noise counter int64 [seed, offset, kind code]: pass it as a stochastic rule's rule_tensors[0] in place
    of nu (T, B, width); the rule draws nu[t, b, k] = draw(kind, seed, offset + (t B + b) width + k)."""
    _check_kind("noise_counter", kind)
    return torch.tensor([int(seed), int(offset), NOISE_KINDS.index(kind)], dtype=torch.int64, device=device)


def noise_reserve(seed: Tensor, offset: Tensor, count: int, kind: str) -> Tensor:
    """Reserves ``count`` draws: reads the int64 scalar ``offset``, advances it in place by count, as one atomic
    step (a lock in the op: threads sharing a module draw disjoint noise), and returns the noise counter
    [seed, offset before, kind]. LocalRNN.forward (scripted too, and under torch.compile / torch.export, where
    the advance is a buffer mutation of the graph)."""
    return torch.ops.torch_local_rnn.noise_reserve(seed, offset, count, kind)


@_register_fake("noise_reserve")
def _noise_reserve_fake(seed, offset, count, kind):
    op = "noise_reserve"
    _check_kind(op, kind)
    for name, t in (("seed", seed), ("offset", offset)):
        if t.dtype != torch.int64 or t.numel() != 1:
            _fail(op, f"expected {name} to be an int64 tensor of one element, but got a "
                      f"{_DTYPES.get(t.dtype, t.dtype)} tensor of shape {_shape_str(t.shape)}")
    if seed.device != offset.device:
        _fail(op, f"expected seed and offset on one device, but got {seed.device} and {offset.device}")
    if isinstance(count, int) and count < 0:
        _fail(op, f"expected count >= 0, but got {count}")
    return offset.new_empty((3,))
