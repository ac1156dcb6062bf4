"""Sine-wave generation: produce a sine wave whose frequency is set by a constant input level."""
import math
from typing import Dict, Iterator

import torch

from .base import BlockDraws, Chunk, Task, block_items, check_int, check_real


class SineWaveTask(Task):
    """Sine-wave generation (after Sussillo & Abbott 2009 and vanilla-rtrl's Sine_Wave):
    trials of ``trial_length`` steps, back to back, the first starting at step 0. Per trial and
    stream a frequency f (cycles per step) is drawn uniformly from [f_min, f_max].

    Inputs (2 channels): the frequency code f / f_max, constant during the trial, and a trial
    start pulse (1 at the trial's first step, else 0). Target (1 channel):
    ``amplitude * sin(2 pi f k)`` at position k = 0 .. trial_length-1 within the trial. Linear
    output, MSE loss.

    Draw order: one uniform u per trial and stream, f = f_min + u (f_max - f_min), trials in order,
    in blocks of a fixed number of trials (``BlockDraws``).

    Reference levels (MSE per step, averaged over whole trials, exact): "predict zero",
    amplitude^2 / (2 T) sum_k E_f[sin^2(2 pi f k)] with
    E_f[sin^2(2 pi f k)] = 1/2 - (sin(4 pi f_max k) - sin(4 pi f_min k)) / (8 pi k (f_max - f_min)),
    and "optimum" (0: the target is a function of the inputs so far).
    """

    loss = "mse"
    input_size = 2
    output_size = 1
    _fields = ("trial_length", "f_min", "f_max", "amplitude")

    def __init__(self, trial_length: int = 100, f_min: float = 0.01, f_max: float = 0.05, amplitude: float = 1.0):
        who = "SineWaveTask"
        self.trial_length = check_int(trial_length, "trial_length", who, 1)
        self.f_min = check_real(f_min, "f_min", who, 0.0, 0.5, open_low=True)
        self.f_max = check_real(f_max, "f_max", who, self.f_min, 0.5)
        self.amplitude = check_real(amplitude, "amplitude", who, 0.0, open_low=True)

    def mean_square(self, k: int) -> float:
        """E_f[sin^2(2 pi f k)] for f uniform on [f_min, f_max]."""
        lo, hi = self.f_min, self.f_max
        if k == 0:
            return 0.0
        if hi == lo:
            return math.sin(2 * math.pi * lo * k) ** 2
        return 0.5 - (math.sin(4 * math.pi * hi * k) - math.sin(4 * math.pi * lo * k)) / (8 * math.pi * k * (hi - lo))

    @property
    def reference_levels(self) -> Dict[str, float]:
        T = self.trial_length
        zero = 0.5 * self.amplitude ** 2 * sum(self.mean_square(k) for k in range(T)) / T
        return {"predict zero": zero, "optimum": 0.0}

    def _chunks(self, steps: int, batch: int, chunk_size: int, g: torch.Generator, dtype: torch.dtype,
                device) -> Iterator[Chunk]:
        T, f64 = self.trial_length, torch.float64
        draws = BlockDraws(lambda n: torch.rand(n, batch, generator=g, dtype=f64), block_items(batch, 1))
        for start in range(0, steps, chunk_size):
            stop = min(steps, start + chunk_size)
            t = torch.arange(start, stop)
            trial, pos = t // T - start // T, t % T
            f = self.f_min + draws.take(start // T, (stop - 1) // T + 1)[trial] * (self.f_max - self.f_min)
            pulse = (pos == 0).to(f64)[:, None].expand_as(f)
            x = torch.stack([f / self.f_max, pulse], dim=-1)
            y = (self.amplitude * torch.sin(2 * math.pi * f * pos[:, None].to(f64)))[..., None]
            yield x.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)
