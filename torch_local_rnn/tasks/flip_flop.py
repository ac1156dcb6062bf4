"""The N-bit flip-flop task (Sussillo & Barak 2013)."""
from typing import Dict, Iterator

import torch

from .base import BlockDraws, Chunk, Task, block_items, check_int, check_real


class FlipFlopTask(Task):
    """N-bit flip-flop (Sussillo & Barak 2013): ``bits`` independent channels.

    Input: at every step each channel independently pulses with probability ``p`` (default
    0.05, i.e. one pulse every 20 steps on average), the pulse being +1 or -1 with equal
    probability, and is 0 otherwise. Target: per channel the sign of the last pulse up to and
    including the current step, 0 before the channel's first pulse. Linear output, MSE loss.

    Draw order: one uniform u per step and channel (in time order, in blocks of a fixed number of
    steps, ``BlockDraws``): pulse +1 if u < p/2, -1 if u >= 1 - p/2, 0 otherwise.

    Reference levels (MSE, per step): "predict zero" = 1/2 (the best constant prediction; exact
    once the channel has pulsed, i.e. the stationary value: over the first ~1/p steps y = 0 still,
    see ``zero_prediction_loss`` for the exact expectation over a stream of N steps) and
    "optimum" = 0 (the target is a function of past inputs).
    """

    loss = "mse"
    _fields = ("bits", "p")

    def __init__(self, bits: int = 3, p: float = 0.05):
        self.bits = check_int(bits, "bits", "FlipFlopTask", 1)
        self.p = check_real(p, "p", "FlipFlopTask", 0.0, 1.0)
        self.input_size = self.output_size = self.bits

    def zero_prediction_loss(self, steps: int) -> float:
        """Expected mean MSE of predicting 0 over a stream of ``steps`` steps (from its start):
        step t (from 0) has y^2 = 1 with probability 1 - (1 - p)^(t + 1)."""
        n = check_int(steps, "steps", "FlipFlopTask.zero_prediction_loss", 1)
        if self.p == 0.0:
            return 0.0
        q = 1.0 - self.p
        return 0.5 * (1.0 - q * (1.0 - q ** n) / (self.p * n))

    @property
    def reference_levels(self) -> Dict[str, float]:
        return {"predict zero": 0.5 if self.p > 0.0 else 0.0, "optimum": 0.0}

    def _chunks(self, steps: int, batch: int, chunk_size: int, g: torch.Generator, dtype: torch.dtype,
                device) -> Iterator[Chunk]:
        draws = BlockDraws(lambda n: torch.rand(n, batch, self.bits, generator=g, dtype=torch.float64),
                           block_items(batch, self.bits))
        half = self.p / 2
        state = torch.zeros(batch, self.bits)  # sign of the last pulse so far
        for start in range(0, steps, chunk_size):
            stop = min(steps, start + chunk_size)
            u = draws.take(start, stop)
            pulse = torch.where(u < half, 1.0, torch.where(u >= 1.0 - half, -1.0, 0.0)).float()
            seq = torch.cat([state[None], pulse])  # row 0: the carried sign (0 = no pulse yet)
            when = torch.arange(seq.shape[0]).view(-1, 1, 1) * (seq != 0)  # step of a pulse, else 0
            y = seq.gather(0, when.cummax(0).values)  # sign at the last pulse
            state = y[-1]
            yield pulse.to(dtype=dtype, device=device), y[1:].to(dtype=dtype, device=device)
