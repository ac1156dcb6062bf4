"""Configs of DNI / DNI(b) (docs/algorithms.md §3.8, §4): apical weights predicting the credit, bootstrapped from a
frozen copy, with a learned Jacobian W_a for DNI(b). Online only."""
from dataclasses import dataclass
from typing import Union

import torch
from torch import Tensor

from .base import _check_feedback, _like, _nonnegative, _Rule


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
    # §6.2 (July 2019) and §6.3 (JMLR): eta_SG = eta_J = 1e-3; 2019 with the 2019 code's order and init
    paper_options = {2019: {"lr_sg": 1e-3, "lr_j": 1e-3, "version": 2019}, 2020: {"lr_sg": 1e-3, "lr_j": 1e-3}}
    has_sequence_form = False
    random_init = True
    learned_state = ("sg_weight", "sg_frozen", "sg_jacobian", "sg_count")
    records = True                # U_t, U*_{t-1}, U_{t-1}, V_t per step
    label_state = "sg_label_prev"

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
    # §6.1: the 2019 showcase ("alpha03_tau4"): eta_SG = eta_a = 1e-2, frozen copy refreshed every 5 steps, the 2019
    # code; §6.3: eta_SG = eta_J = 1e-3
    paper_options = {2019: {"lr_sg": 1e-2, "lr_j": 1e-2, "fix_interval": 5, "version": 2019},
                     2020: {"lr_sg": 1e-3, "lr_j": 1e-3, "fix_interval": 5}}
