"""Delayed match-to-sample: is the test stimulus the sample shown before the delay?"""
import math
from typing import Dict, Iterator

import torch
from torch.nn.functional import one_hot

from .base import BlockDraws, Chunk, Task, binary_entropy, block_items, check_int, check_real


class DelayedMatchToSampleTask(Task):
    """Delayed match-to-sample: trials of T = 2 stimulus_steps + delay + report_steps steps, back
    to back, the first starting at step 0. Positions within a trial (P = stimulus_steps,
    D = delay, R = report_steps):

        0 .. P-1            sample stimulus, one-hot on input channels 0 .. stimuli-1
        P .. P+D-1          delay, all inputs 0
        P+D .. 2P+D-1       test stimulus, one-hot
        2P+D .. T-1         report window: input channel ``stimuli`` (go cue) = 1

    The sample is uniform over the ``stimuli``; the test is the sample with probability
    ``p_match``, otherwise uniform over the other stimuli. Output: 2 classes (softmax,
    cross-entropy), class 0 = match, class 1 = non-match. In the report window the label is the
    one-hot answer; everywhere else it is the uniform [0.5, 0.5] ("fixation"): its cross-entropy
    is minimal (log 2) at an indifferent output and its gradient only pulls towards indifference,
    which plays the role of a loss mask in a plain (x, y) stream.

    Draw order: per trial three uniforms per stream (u0: sample = floor(u0 stimuli), u1: match
    when u1 < p_match, u2: the non-matching test = (sample + 1 + floor(u2 (stimuli - 1))) mod
    stimuli), trials in order, in blocks of a fixed number of trials (``BlockDraws``).

    Reference levels (nats per step, averaged over whole trials, exact): "chance" (uniform output
    at every step: log 2), "trial structure" (knows the timing and p_match but not the stimuli:
    ((T - R) log 2 + R H(p_match)) / T) and "optimum" ((T - R) log 2 / T: the fixation steps).
    """

    loss = "cross_entropy"
    output_size = 2
    _fields = ("stimuli", "delay", "stimulus_steps", "report_steps", "p_match")

    def __init__(self, stimuli: int = 2, delay: int = 5, stimulus_steps: int = 1, report_steps: int = 1,
                 p_match: float = 0.5):
        who = "DelayedMatchToSampleTask"
        self.stimuli = check_int(stimuli, "stimuli", who, 2)
        self.delay = check_int(delay, "delay", who, 0)
        self.stimulus_steps = check_int(stimulus_steps, "stimulus_steps", who, 1)
        self.report_steps = check_int(report_steps, "report_steps", who, 1)
        self.p_match = check_real(p_match, "p_match", who, 0.0, 1.0)
        self.trial_length = 2 * self.stimulus_steps + self.delay + self.report_steps
        self.input_size = self.stimuli + 1

    @property
    def reference_levels(self) -> Dict[str, float]:
        T, R = self.trial_length, self.report_steps
        fixation = (T - R) * math.log(2) / T
        return {"chance": math.log(2),
                "trial structure": fixation + R * binary_entropy(self.p_match) / T,
                "optimum": fixation}

    def _chunks(self, steps: int, batch: int, chunk_size: int, g: torch.Generator, dtype: torch.dtype,
                device) -> Iterator[Chunk]:
        S, P, D, T = self.stimuli, self.stimulus_steps, self.delay, self.trial_length
        draws = BlockDraws(lambda n: torch.rand(n, batch, 3, generator=g, dtype=torch.float64),
                           block_items(batch, 3))
        for start in range(0, steps, chunk_size):
            stop = min(steps, start + chunk_size)
            t = torch.arange(start, stop)
            trial, pos = t // T - start // T, t % T
            u = draws.take(start // T, (stop - 1) // T + 1)[trial]  # [c, batch, 3]
            sample = (u[..., 0] * S).long().clamp_max(S - 1)
            match = u[..., 1] < self.p_match
            other = (sample + 1 + (u[..., 2] * (S - 1)).long().clamp_max(S - 2)) % S
            test = torch.where(match, sample, other)
            is_sample, is_test = (pos < P)[:, None], ((pos >= P + D) & (pos < 2 * P + D))[:, None]
            report = (pos >= 2 * P + D)[:, None]
            # input class: a stimulus, S = go cue (report window), S + 1 = nothing (dropped column)
            shown = torch.where(is_sample, sample, torch.where(is_test, test, torch.where(report, S, S + 1)))
            x = one_hot(shown, S + 2)[..., :S + 1]
            answer = one_hot((~match).long(), 2).double()
            y = torch.where(report[..., None], answer, torch.full_like(answer, 0.5))
            yield x.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)
