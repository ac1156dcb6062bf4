"""Configs of the exact rules and the floor (docs/algorithms.md §3.1, §3.2): BPTT (sequence form only), OutputOnly
and RTRL."""
from dataclasses import dataclass

import torch

from .base import _like, _Rule


@dataclass(frozen=True)
class BPTT(_Rule):
    """Exact backpropagation through time (the reference every rule approximates); sequence form only:
    its credit needs the future of the stream. F-BPTT and E-BPTT are its online truncations."""

    name = "bptt"
    has_online_form = False


@dataclass(frozen=True)
class OutputOnly(_Rule):
    """Only the readout learns (docs/algorithms.md §3.1): the no-recurrent-learning floor."""

    name = "output_only"


@dataclass(frozen=True)
class RTRL(_Rule):
    """Real-time recurrent learning (docs/algorithms.md §3.2): exact forward-mode credit through the influence
    matrix M (B, n, n*m), O(n^4) per step. With frozen weights it equals BPTT."""

    name = "rtrl"
    paper_options = {2019: {"legacy_alpha_omission": True}, 2020: {"legacy_alpha_omission": True}}  # §2.6

    legacy_alpha_omission: bool = False

    def sequence_options(self, alpha):
        return [1.0] if self.legacy_alpha_omission else []

    def online_state(self, batch, hidden, inputs, **kw):
        m = hidden + inputs + 1
        return {"influence": torch.zeros(batch, hidden, hidden * m, **_like(kw))}
