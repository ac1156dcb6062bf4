"""Configs of the online truncations of BPTT (docs/algorithms.md §3.9, §3.10): F-BPTT and E-BPTT."""
from dataclasses import dataclass
from typing import Dict

import torch
from torch import Tensor

from .base import _like, _positive_int, _Rule


def _history_state(steps: int, batch: int, hidden: int, inputs: int, **like) -> Dict[str, Tensor]:
    """What the truncated BPTTs carry: the last ``steps`` steps' phi'(h), presynaptic vector and credit,
    and a step count."""
    return {"dphi_history": torch.zeros(steps, batch, hidden, **like),
            "input_history": torch.zeros(steps, batch, hidden + inputs + 1, **like),
            "credit_history": torch.zeros(steps, batch, hidden, **like),
            "count": torch.zeros(1, **like)}


@dataclass(frozen=True)
class FBPTT(_Rule):
    """Future-facing truncated BPTT (docs/algorithms.md §3.9): every step sends its error back ``truncation``
    steps and applies the update of the step ``truncation - 1`` in the past (21 in the JMLR runs)."""

    truncation: int = 21
    legacy_alpha_omission: bool = False
    name = "f_bptt"
    # §6.2: T = 10 in the July-2019 grid; §6.3: T = 21; both omit alpha from the immediate influence (§2.6)
    paper_options = {2019: {"truncation": 10, "legacy_alpha_omission": True},
                     2020: {"truncation": 21, "legacy_alpha_omission": True}}

    def __post_init__(self):
        _positive_int("FBPTT", "truncation", self.truncation)

    def sequence_options(self, alpha):
        return [float(self.truncation)] + ([1.0] if self.legacy_alpha_omission else [])

    def online_state(self, batch, hidden, inputs, **kw):
        return _history_state(self.truncation, batch, hidden, inputs, **_like(kw))


@dataclass(frozen=True)
class EBPTT(_Rule):
    """Efficient truncated BPTT (docs/algorithms.md §3.10): exact BPTT inside non-overlapping windows of
    ``window`` steps, applied once per window."""

    window: int = 20
    legacy_alpha_omission: bool = False
    name = "e_bptt"
    paper_options = {2019: {"legacy_alpha_omission": True}, 2020: {"legacy_alpha_omission": True}}  # §2.6

    def __post_init__(self):
        _positive_int("EBPTT", "window", self.window)

    def sequence_options(self, alpha):
        return [float(self.window)] + ([1.0] if self.legacy_alpha_omission else [])

    def online_state(self, batch, hidden, inputs, **kw):
        return _history_state(self.window, batch, hidden, inputs, **_like(kw))
