"""Configs of the rules that learn auxiliary weights next to the network (algorithms.md §3.7, §3.8, §4):
KeRNL (a mixing matrix A and per-unit rates, trained from a perturbed copy of the network) and DNI /
DNI(b) (apical weights predicting the credit, a learned Jacobian W_a for DNI(b))."""
from dataclasses import dataclass
from typing import Optional, Union

import torch
from torch import Tensor

from .rules import _like, _Rule
from .rules_factored import standard_normal


def _nonnegative(who: str, **values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0.0 or v == float("inf"):
            raise ValueError(f"{who}: expected {name} to be a finite number >= 0, but got {v!r}")


def _check_feedback(who: str, feedback) -> None:
    if isinstance(feedback, str) and feedback not in ("symmetric", "random"):
        raise ValueError(f"{who}: expected feedback to be 'symmetric', 'random' or a tensor, but got '{feedback}'")
    if not isinstance(feedback, (str, Tensor)):
        raise TypeError(f"{who}: expected feedback to be a str or a tensor, but got {type(feedback).__name__}")


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


@dataclass(frozen=True)
class DNI(_Rule):
    """Decoupled neural interfaces / synthetic gradients (Jaderberg et al. 2017; §3.8, v2020 order).
    The credit c_t is predicted as U_t = A [a_t; y*_t; 1] and A is trained by bootstrapping one step
    late towards U*_{t-1} = q_{t-1} + J^T sigma(A_frozen [a_t; y*_t; 1]); the update is
    G = (U_t (.) alpha phi'(h_t)) ahat_t^T. Online only (U_t reads the label).

    Switches (§4.3): approximate_jacobian (learned W_a instead of the exact J_t), tanh_target (squash the
    bootstrap), feedback ("symmetric" W_out^T or "random" W_FB), alpha_e (> 0: the synaptic eligibility
    trace variant). lr_sg, lr_j: the SGD rates of A and W_a; fix_interval: steps between refreshes of
    the frozen copy; sg_l2: L2 on A. version (§9 dni_version): 2020 (default) or 2019, the code of the 2019
    paper: A = [A_a | B_y | C] drawn as A_a, B_y ~ N(0, 1/n), C = 0 (2020: A ~ N(0, 1/(n + n_out + 1))), and W_a
    learns after the apical step, so the bootstrap at step t uses the W_a of step t - 1 (2020 moved it first).
    """

    lr_sg: float = 1e-3
    lr_j: float = 1e-3
    fix_interval: int = 5
    approximate_jacobian: bool = False
    tanh_target: bool = False
    alpha_e: float = 0.0
    sg_l2: float = 0.0
    feedback: Union[str, Tensor] = "symmetric"
    version: int = 2020

    name = "dni"
    has_sequence_form = False
    random_init = True
    learned_state = ("sg_weight", "sg_frozen", "sg_jacobian", "sg_count")

    def __post_init__(self):
        who = type(self).__name__
        _nonnegative(who, lr_sg=self.lr_sg, lr_j=self.lr_j, alpha_e=self.alpha_e, sg_l2=self.sg_l2)
        if self.alpha_e > 1.0:
            raise ValueError(f"{who}: expected alpha_e in [0, 1] (0: no eligibility trace), but got {self.alpha_e}")
        if isinstance(self.fix_interval, bool) or not isinstance(self.fix_interval, int) or self.fix_interval < 1:
            raise ValueError(f"{who}: expected fix_interval to be an integer >= 1, but got {self.fix_interval!r}")
        _check_feedback(who, self.feedback)
        if self.version not in (2019, 2020) or isinstance(self.version, bool):
            raise ValueError(f"{who}: expected version 2019 or 2020, but got {self.version!r}")

    def sequence_options(self, alpha):
        return [float(self.lr_sg), float(self.lr_j), float(self.fix_interval), float(self.approximate_jacobian),
                float(self.tanh_target), float(self.alpha_e), float(self.sg_l2), float(self.version == 2019)]

    def online_state(self, batch, hidden, inputs, *, outputs=1, generator=None, weight_hh=None, **kw):
        like = _like(kw)
        K = hidden + outputs + 1  # 2020: A ~ N(0, 1/K); W_a starts as a copy of W_hh (§3.8, §7)
        if self.version == 2019:  # [A_a | B_y] ~ N(0, 1/n), C = 0
            A = torch.randn(hidden, K, generator=generator, dtype=torch.float64) / hidden ** 0.5
            A[:, K - 1] = 0.0
            A = A.to(**like)
        else:
            A = (torch.randn(hidden, K, generator=generator, dtype=torch.float64) / K ** 0.5).to(**like)
        J = torch.zeros(hidden, hidden, **like) if weight_hh is None else weight_hh.detach().clone().to(**like)
        return {"sg_weight": A, "sg_frozen": A.clone(), "sg_jacobian": J,
                "sg_q_prev": torch.zeros(batch, hidden, **like), "sg_label_prev": torch.zeros(batch, outputs, **like),
                "sg_count": torch.zeros(1, **like),
                "eligibility": torch.zeros(batch, hidden, hidden + inputs + 1, **like)}


@dataclass(frozen=True)
class DNIb(DNI):
    """DNI(b), the local-rule model of the 2019 paper (§4): learned W_a, tanh-squashed bootstrap, random
    feedback W_FB. Neurons have a basal compartment (V = h_t, the forward drive) and an apical one
    (U_t, the predicted credit); OnlineLearner.fit(..., record=True) returns U_t, the targets and V_t."""

    approximate_jacobian: bool = True
    tanh_target: bool = True
    feedback: Union[str, Tensor] = "random"

    name = "dni_b"
