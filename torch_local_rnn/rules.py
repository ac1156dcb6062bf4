"""Rule configs: small typed objects with the spec's defaults, accepted wherever a rule name is.

    LocalRNN(2, 32, rule="rflo")                   # by name, defaults
    LocalRNN(2, 32, rule=rules.RFLO(trace_alpha=0.3))
"""
from dataclasses import dataclass
from typing import List, Optional, Union

import torch


@dataclass(frozen=True)
class BPTT:
    """Exact backpropagation through time (the reference every rule approximates)."""

    name = "bptt"
    has_online_form = False

    def sequence_options(self, alpha: float) -> List[float]:
        return []


@dataclass(frozen=True)
class RFLO:
    """Random-feedback local online learning (Murray 2019; algorithms.md §3.6).

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
    has_online_form = True

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


RULES = {"bptt": BPTT, "rflo": RFLO}
Rule = Union[str, BPTT, RFLO]


def resolve(rule: Rule):
    """A rule config from a name or a config; the error lists the known names."""
    if isinstance(rule, str):
        if rule not in RULES:
            raise ValueError(f"expected rule to be one of {sorted(RULES)} or a rules config, but got '{rule}'")
        return RULES[rule]()
    if isinstance(rule, tuple(RULES.values())):
        return rule
    raise TypeError(f"expected rule to be a rule name or a rules config, but got {type(rule).__name__}")
