"""Configs of the random-feedback trace rules (docs/algorithms.md §3.6): RFLO and e-prop (RFLO with the trace
rate fixed to the network's alpha)."""
from dataclasses import dataclass
from typing import List, Optional, Union

import torch

from .base import _like, _Rule


@dataclass(frozen=True)
class RFLO(_Rule):
    """Random-feedback local online learning (Murray 2019; docs/algorithms.md §3.6).

    trace_alpha: the trace's rate alpha_R in B_t = (1 - alpha_R) B_{t-1} + alpha_R phi'(h_t) ahat_t^T;
        None means the network's alpha (every paper configuration).
    feedback: how the output error reaches the hidden units in the online learner:
        "symmetric" (W_out^T, the papers' RFLO runs), "random" (a fixed random W_FB ~ N(0, 1/n_out),
        Murray's original), or a fixed (output_size, hidden_size) tensor. In sequence form
        (LocalRNN) the credit dL/da_t comes from autograd, i.e. always through the true downstream
        weights.
    """

    trace_alpha: Optional[float] = None
    feedback: Union[str, torch.Tensor] = "symmetric"

    name = "rflo"
    # §6.1: the 2019 comparison runs fed the error back through a fixed random W_FB; §6.3: W_out^T
    paper_options = {2019: {"feedback": "random"}, 2020: {"feedback": "symmetric"}}

    def __post_init__(self):
        if self.trace_alpha is not None and not 0.0 < float(self.trace_alpha) <= 1.0:
            raise ValueError(f"RFLO: expected trace_alpha in (0, 1] or None, but got {self.trace_alpha}")
        if isinstance(self.feedback, str) and self.feedback not in ("symmetric", "random"):
            raise ValueError(
                f"RFLO: expected feedback to be 'symmetric', 'random' or a tensor, but got '{self.feedback}'")
        if not isinstance(self.feedback, (str, torch.Tensor)):
            raise TypeError(f"RFLO: expected feedback to be a str or a tensor, but got {type(self.feedback).__name__}")

    def rate(self, alpha: float) -> float:
        return float(alpha if self.trace_alpha is None else self.trace_alpha)

    def sequence_options(self, alpha: float) -> List[float]:
        return [self.rate(alpha)]

    def online_state(self, batch, hidden, inputs, **kw):
        return {"trace": torch.zeros(batch, hidden, hidden + inputs + 1, **_like(kw))}


@dataclass(frozen=True)
class EProp(RFLO):
    """e-prop (Bellec et al. 2020) for this leaky rate network. The neuron's eligibility trace is
    e_t = (1 - alpha) e_{t-1} + alpha phi'(h_t) ahat_t^T with the membrane's own alpha, and the learning
    signal is the output error through W_out^T ("symmetric e-prop") or a fixed random matrix
    ("random e-prop"). That is exactly RFLO with trace_alpha = alpha: the same ops run; only the name
    and the fixed trace rate differ."""

    name = "eprop"

    def __post_init__(self):
        if self.trace_alpha is not None:
            raise ValueError("EProp: the trace rate is the network's alpha; use rules.RFLO(trace_alpha=...) "
                             f"for another, but got trace_alpha={self.trace_alpha}")
        super().__post_init__()

    def sequence_options(self, alpha: float) -> List[float]:
        return []  # the library's eprop rule: trace_alpha = alpha
