"""Config of KeRNL (docs/algorithms.md §3.7): an eligibility trace filtered by learned per-unit rates and mixed by a
learned matrix A, both trained from a perturbed copy of the network."""
from dataclasses import dataclass
from typing import Optional, Union

import torch
from torch import Tensor

from .base import _check_feedback, _like, _nonnegative, _Rule
from .factored import standard_normal

PERTURBED_INITS = ("run_start_state", "construction_state")
KERNL_VERSIONS = ("2020", "2019-approx", "2019-exact")  # rule_options[3] is the index


@dataclass(frozen=True)
class KeRNL(_Rule):
    """Kernel RNN learning (Roth, Kanitscheider & Fiete 2019; §3.7, v2020 semantics): M[k, i, j] ~ A_ki B_ij
    with B an eligibility trace filtered by the learned per-unit kernel k = max(0, 1 - rates).

    sigma: the perturbation size (zeta ~ N(0, sigma^2)); lr: the SGD rate of A and the rates (the papers
    scale it as base / sigma for tiny sigma); reset_interval: T_reset (None: never); initial_rates: the
    rates' start (0.8 in the code). With A = I and rates = alpha held fixed (lr = 0) KeRNL is RFLO.
    version (§9 kernl_version): "2020", or the 2019 code's "2019-approx" (Omega <- k Omega + (1 - k) zeta) and
    "2019-exact" (also k = exp(-rates), Gamma <- k (Gamma - Omega), rates drawn as 10^-U(0, 2)); initial_rates
    (None: the version's default, 0.8 for the approximate kernel) sets every rate; learned_alpha_e: the trace's
    immediate term (1 - k) phi'(h) ahat^T instead of alpha phi'(h) ahat^T (a 2019 option).
    perturbed_init: where the perturbed copy's state starts (§3.7 quirk (ii)): "run_start_state" (the
    network's own start, as in the latest code) or "construction_state" (an independent random state
    a = phi(h), h ~ N(0, 1), as the 2019/2020 code's copy kept the state it was built with while each run
    re-drew the network's: a~ - a starts O(1) and decays through the dynamics).
    The sequence form (LocalRNN) uses the buffers ``kernl_mixing`` (A, default I) and ``kernl_rates``
    (default initial_rates) as they are: they are learned online only.
    """

    sigma: float = 1e-5
    lr: float = 5.0
    reset_interval: Optional[int] = None
    initial_rates: Optional[float] = None
    feedback: Union[str, Tensor] = "symmetric"
    perturbed_init: str = "run_start_state"
    version: str = "2020"
    learned_alpha_e: bool = False

    name = "kernl"
    # §6.2/§6.3: sigma 1e-3, lr 5 (the 2019 grid with the approximate kernel); the perturbed copy kept the state
    # it was built with in both codes (§3.7 quirk (ii))
    paper_options = {2019: {"sigma": 1e-3, "lr": 5.0, "version": "2019-approx", "perturbed_init": "construction_state"},
                     2020: {"sigma": 1e-3, "lr": 5.0, "perturbed_init": "construction_state"}}
    stochastic = True
    learned_state = ("kernl_mixing", "kernl_rates")

    def __post_init__(self):
        _nonnegative("KeRNL", sigma=self.sigma, lr=self.lr)
        if self.initial_rates is not None:
            _nonnegative("KeRNL", initial_rates=self.initial_rates)
        if self.version not in KERNL_VERSIONS:
            raise ValueError(f"KeRNL: expected version in {KERNL_VERSIONS}, but got {self.version!r}")
        if self.reset_interval is not None and (isinstance(self.reset_interval, bool)
                                                or not isinstance(self.reset_interval, int)
                                                or self.reset_interval < 1):
            raise ValueError(f"KeRNL: expected reset_interval to be an integer >= 1 or None, but got "
                             f"{self.reset_interval!r}")
        _check_feedback("KeRNL", self.feedback)
        if self.perturbed_init not in PERTURBED_INITS:
            raise ValueError(f"KeRNL: expected perturbed_init in {PERTURBED_INITS}, but got {self.perturbed_init!r}")

    def sequence_options(self, alpha):
        return [float(self.sigma), float(self.lr), float(self.reset_interval or 0),
                float(KERNL_VERSIONS.index(self.version)), float(self.learned_alpha_e)]

    def _rates(self, hidden, generator, like):
        """The learned rates' start: initial_rates for every unit; by default 0.8, or for the exact kernel
        10^-U(0, 2) per unit (the 2019 code)."""
        if self.initial_rates is not None:
            return torch.full((hidden,), float(self.initial_rates), **like)
        if self.version == "2019-exact":
            return (10.0 ** (-2.0 * torch.rand(hidden, generator=generator, dtype=torch.float64))).to(**like)
        return torch.full((hidden,), 0.8, **like)

    def online_state(self, batch, hidden, inputs, *, generator=None, start=None, random_state=None, **kw):
        """start: the network's state at the run's start (default zeros); random_state(generator): a random
        network state (OnlineLearner supplies both; needed for perturbed_init="construction_state")."""
        like = _like(kw)
        z = lambda *shape: torch.zeros(*shape, **like)  # noqa: E731
        zeta = (self.sigma * torch.randn(batch, hidden, generator=generator, dtype=torch.float64)).to(**like)
        if self.perturbed_init == "construction_state":
            if random_state is None:
                raise ValueError("KeRNL.online_state: perturbed_init='construction_state' needs random_state "
                                 "(a function of the generator returning a random network state)")
            perturbed = random_state(generator).to(**like)
        else:
            perturbed = z(batch, hidden) if start is None else start.detach().clone().to(**like)
        return {"trace": z(batch, hidden, hidden + inputs + 1),
                "kernl_mixing": torch.eye(hidden, **like),
                "kernl_rates": self._rates(hidden, generator, like),
                "kernl_omega": z(batch, hidden), "kernl_gamma": z(batch, hidden), "kernl_zeta": zeta,
                "kernl_perturbed": perturbed, "kernl_count": z(1)}

    def noise(self, steps, batch, hidden, generator=None, **like):
        return [standard_normal((steps, batch, hidden), generator).to(**like)]

    def sequence_tensors(self, hidden, generator=None, **like):
        return {"kernl_mixing": torch.eye(hidden, **like), "kernl_rates": self._rates(hidden, generator, _like(like))}
