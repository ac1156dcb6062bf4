"""The copy task: remember a sequence of symbols over a delay, then reproduce it."""
import math
from typing import Dict, Iterator

import torch
from torch.nn.functional import one_hot

from .base import BlockDraws, Chunk, Task, block_items, check_int


class CopyTask(Task):
    """Copy task (classic memory probe): trials of T = 2 length + delay + 1 steps, back to back,
    the first starting at step 0. Positions within a trial (L = length, D = delay):

        0 .. L-1        symbol s_j (j = position) shown one-hot on input channel s_j
        L .. L+D-1      delay, all inputs 0
        L+D             go cue: input channel ``symbols`` = 1
        L+D+1 .. 2L+D   recall, all inputs 0: the label is s_j, j = position - (L + D + 1)

    The symbols s_j are i.i.d. uniform over 0 .. symbols-1 (``symbols = 2``: binary patterns).
    Inputs: ``symbols + 1`` channels (the symbols and the go cue). Outputs: ``symbols + 1``
    classes, softmax and cross-entropy; class ``symbols`` is the blank, the one-hot label of every
    step outside the recall window.

    Draw order: per trial, batch x length symbols (torch.randint), trials in order, drawn in
    blocks of a fixed number of trials (``BlockDraws``).

    Reference levels (nats per step, averaged over whole trials, exact):
    "nothing learned" (predict the class frequencies: blank (T-L)/T, each symbol L/(T S)),
    "trial structure" (knows where the recall window is but not the symbols: L log(S) / T) and
    "optimum" (0).
    """

    loss = "cross_entropy"
    _fields = ("length", "symbols", "delay")

    def __init__(self, length: int = 5, symbols: int = 4, delay: int = 10):
        who = "CopyTask"
        self.length = check_int(length, "length", who, 1)
        self.symbols = check_int(symbols, "symbols", who, 2)
        self.delay = check_int(delay, "delay", who, 0)
        self.trial_length = 2 * self.length + self.delay + 1
        self.input_size = self.output_size = self.symbols + 1

    @property
    def reference_levels(self) -> Dict[str, float]:
        L, S, T = self.length, self.symbols, self.trial_length
        blank = (T - L) / T
        return {"nothing learned": -blank * math.log(blank) - (L / T) * math.log(L / (T * S)),
                "trial structure": L * math.log(S) / T,
                "optimum": 0.0}

    def _chunks(self, steps: int, batch: int, chunk_size: int, g: torch.Generator, dtype: torch.dtype,
                device) -> Iterator[Chunk]:
        L, S, D, T = self.length, self.symbols, self.delay, self.trial_length
        draws = BlockDraws(lambda n: torch.randint(0, S, (n, batch, L), generator=g), block_items(batch, L))
        for start in range(0, steps, chunk_size):
            stop = min(steps, start + chunk_size)
            t = torch.arange(start, stop)
            trial, pos = t // T - start // T, t % T
            symbols = draws.take(start // T, (stop - 1) // T + 1)  # [trials, batch, L]
            shown, recall = pos < L, pos > L + D
            j = torch.where(shown, pos, pos - (L + D + 1)).clamp(0, L - 1)
            s = symbols[trial, :, j]  # [c, batch]: the symbol shown / to recall at each step
            # input class: a symbol, S = go cue, S + 1 = nothing (dropped column)
            shown_class = torch.where((pos == L + D)[:, None], S, S + 1)
            x = one_hot(torch.where(shown[:, None], s, shown_class), S + 2)[..., :S + 1]
            y = one_hot(torch.where(recall[:, None], s, S), S + 1)
            yield x.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)
