"""Configs of the stochastic factored approximations of RTRL (docs/algorithms.md §3.3-3.5): UORO, KF-RTRL,
R-KF-RTRL. Each step draws noise nu with E[nu nu^T] = I (§2.5), so the factored influence is an
unbiased estimate of RTRL's. The noise reaches the ops as rule_tensors[0], drawn from a torch.Generator
(OnlineLearner's, or LocalRNN's for the sequence form), so a seeded run is reproducible."""
import math
from dataclasses import dataclass
from typing import List, Optional

import torch

from .base import _like, _Rule

NOISE_KINDS = ("discrete", "gaussian", "uniform")


def standard_normal(shape, generator: Optional[torch.Generator]) -> torch.Tensor:
    """N(0, 1) draws (float64) that do not depend on how a stream is cut into calls: torch.randn switches
    to a vectorised algorithm for 16 or more values, so randn(3) then randn(97) differs from randn(100);
    torch.rand consumes the generator value by value, and Box-Muller on its pairs keeps that property
    (a run fitted in chunks, or stopped and resumed, draws the same noise as one that never stopped)."""
    u = torch.rand(*shape, 2, generator=generator, dtype=torch.float64)
    return torch.sqrt(-2.0 * torch.log1p(-u[..., 0])) * torch.cos(2.0 * math.pi * u[..., 1])


def draw_noise(kind: str, shape, generator: Optional[torch.Generator], **like) -> torch.Tensor:
    """nu of docs/algorithms.md §2.5: "discrete" uniform on {-1, +1} (default), "gaussian" N(0, 1),
    "uniform" U(-1, 1) (variance 1/3: the papers' option, biased by that factor)."""
    if kind == "discrete":
        nu = torch.randint(0, 2, shape, generator=generator, dtype=torch.int64) * 2 - 1
    elif kind == "gaussian":
        nu = standard_normal(shape, generator)
    else:
        nu = torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1
    return nu.to(**like)


@dataclass(frozen=True)
class _Factored(_Rule):
    """Shared options: noise kind; rho0 / rho1 fix the rescaling (P0 / P1 of the code; None computes
    the variance-minimising one); legacy_alpha_omission drops alpha from the immediate influence as the
    2019/2020 code did (§2.6)."""

    noise_kind: str = "discrete"
    rho0: Optional[float] = None
    rho1: Optional[float] = None
    legacy_alpha_omission: bool = False
    paper_options = {2019: {"legacy_alpha_omission": True}, 2020: {"legacy_alpha_omission": True}}  # §2.6
    stochastic = True
    sequence_noise = True
    random_init = True

    def __post_init__(self):
        who = type(self).__name__
        if self.noise_kind not in NOISE_KINDS:
            raise ValueError(f"{who}: expected noise_kind in {NOISE_KINDS}, but got '{self.noise_kind}'")
        if (self.rho0 is None) != (self.rho1 is None):
            raise ValueError(f"{who}: expected rho0 and rho1 both set or both None, but got rho0={self.rho0}, "
                             f"rho1={self.rho1}")
        for name in ("rho0", "rho1"):
            v = getattr(self, name)
            if v is not None and not float(v) > 0.0:
                raise ValueError(f"{who}: expected {name} > 0 or None, but got {v}")

    def sequence_options(self, alpha) -> List[float]:
        opts = [float(self.legacy_alpha_omission)]
        if self.rho0 is not None:
            opts += [float(self.rho0), float(self.rho1)]
        return opts

    def noise_width(self, hidden: int) -> int:
        return hidden

    def noise(self, steps, batch, hidden, generator=None, **like):
        return [draw_noise(self.noise_kind, (steps, batch, self.noise_width(hidden)), generator, **like)]


@dataclass(frozen=True)
class UORO(_Factored):
    """Unbiased online recurrent optimisation (Tallec & Ollivier 2017; §3.3): M ~ A_k B_ij (rank 1),
    O(n^2) per step. epsilon > 0 takes J A by a forward difference (online form only)."""

    epsilon: Optional[float] = None
    name = "uoro"

    def __post_init__(self):
        super().__post_init__()
        if self.epsilon is not None and not float(self.epsilon) > 0.0:
            raise ValueError(f"UORO: expected epsilon > 0 or None, but got {self.epsilon}")

    def sequence_options(self, alpha):
        opts = super().sequence_options(alpha)
        if self.epsilon is not None:
            if len(opts) == 1:
                opts += [0.0, 0.0]
            opts.append(float(self.epsilon))
        return opts

    def online_state(self, batch, hidden, inputs, *, generator=None, **kw):
        like = _like(kw)  # A, B ~ N(0, 1) (never 0: rho0 is defined from the first step)
        return {"factor_a": torch.randn(batch, hidden, generator=generator, dtype=torch.float64).to(**like),
                "factor_b": torch.randn(batch, hidden, hidden + inputs + 1, generator=generator,
                                        dtype=torch.float64).to(**like)}


@dataclass(frozen=True)
class KFRTRL(_Factored):
    """Kronecker-factored RTRL (Mujika et al. 2018; §3.4): M[k, i, j] ~ A_j B_ki, two noise scalars per
    step, O(n^3) per step."""

    name = "kf_rtrl"

    def noise_width(self, hidden):
        return 2

    def online_state(self, batch, hidden, inputs, *, generator=None, **kw):
        like = _like(kw)
        return {"factor_a": torch.randn(batch, hidden + inputs + 1, generator=generator,
                                        dtype=torch.float64).to(**like),
                "factor_b": torch.randn(batch, hidden, hidden, generator=generator, dtype=torch.float64).to(**like)}


@dataclass(frozen=True)
class RKFRTRL(_Factored):
    """Reverse Kronecker-factored RTRL (§3.5): M[k, i, j] ~ A_i B_kj, O(n^2 m) per step."""

    name = "rkf_rtrl"

    def online_state(self, batch, hidden, inputs, *, generator=None, **kw):
        like = _like(kw)
        return {"factor_a": torch.randn(batch, hidden, generator=generator, dtype=torch.float64).to(**like),
                "factor_b": torch.randn(batch, hidden, hidden + inputs + 1, generator=generator,
                                        dtype=torch.float64).to(**like)}
