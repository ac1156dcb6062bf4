"""The optimisers OnlineLearner applies after every online step (docs/algorithms.md §2.7).

The op applies them inside its C++/CUDA loop (online_learn's optimizer arguments); a readout that is not an
nn.Linear (the general path, §2.8) gets the same optimiser from torch.optim, with the same hyper-parameters.
"""
import math
import numbers
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Union

import torch
from torch import Tensor

# name -> its options and their defaults (torch.optim's, except momentum's 0.9: "momentum" means momentum)
DEFAULTS: Dict[str, Dict[str, object]] = {
    "sgd": {},
    "momentum": {"momentum": 0.9, "dampening": 0.0, "nesterov": False},
    "adam": {"betas": (0.9, 0.999), "eps": 1e-8},
    "adamw": {"betas": (0.9, 0.999), "eps": 1e-8},
}
OPTIMIZERS = tuple(DEFAULTS)


def _real(who: str, key: str, value, low: float, high: float, low_open: bool, high_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{who}: expected optimizer_options['{key}'] to be a finite number, but got {value!r}")
    ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{who}: expected optimizer_options['{key}'] in {span}, but got {value}")
    return float(value)


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimiser by name with its checked options (DEFAULTS gives the names and defaults)."""
    name: str
    options: Dict[str, object] = field(default_factory=dict)

    def op_options(self) -> List[float]:
        """online_learn's optimizer_options: momentum [momentum, dampening, nesterov]; adam(w) [beta1, beta2, eps]."""
        o = self.options
        if self.name == "momentum":
            return [float(o["momentum"]), float(o["dampening"]), float(bool(o["nesterov"]))]
        if self.name in ("adam", "adamw"):
            return [float(o["betas"][0]), float(o["betas"][1]), float(o["eps"])]
        return []

    def torch_optimizer(self, params: List[torch.nn.Parameter], lr: float, l2: float) -> torch.optim.Optimizer:
        """The same optimiser from torch.optim over ``params`` (a general readout's), L2 on the matrices only
        (the fused loop's rule: weights decay, biases do not)."""
        groups = [{"params": [p for p in params if p.dim() > 1], "weight_decay": l2},
                  {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
        o = self.options
        if self.name == "sgd":
            return torch.optim.SGD(groups, lr=lr)
        if self.name == "momentum":
            return torch.optim.SGD(groups, lr=lr, momentum=o["momentum"], dampening=o["dampening"],
                                   nesterov=bool(o["nesterov"]))
        cls = torch.optim.Adam if self.name == "adam" else torch.optim.AdamW
        return cls(groups, lr=lr, betas=tuple(o["betas"]), eps=o["eps"])


def parse_optimizer(name, options, who: str) -> OptimizerSpec:
    """``name`` in OPTIMIZERS with ``options`` (a dict of its DEFAULTS' keys, or None), checked now: ValueError /
    TypeError naming the argument otherwise."""
    if not isinstance(name, str) or name not in DEFAULTS:
        raise ValueError(f"{who}: expected optimizer to be one of {list(OPTIMIZERS)}, but got {name!r}")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"{who}: expected optimizer_options to be a dict, but got {type(options).__name__}")
    unknown = sorted(set(options) - set(DEFAULTS[name]))
    if unknown:
        raise ValueError(f"{who}: optimizer '{name}' takes the options {sorted(DEFAULTS[name]) or 'none'}, but got "
                         f"{unknown}")
    merged = dict(DEFAULTS[name], **options)
    if name == "momentum":
        merged["momentum"] = _real(who, "momentum", merged["momentum"], 0.0, math.inf, False, True)
        merged["dampening"] = _real(who, "dampening", merged["dampening"], 0.0, 1.0, False, False)
        if not isinstance(merged["nesterov"], bool):
            raise TypeError(f"{who}: expected optimizer_options['nesterov'] to be a bool, but got "
                            f"{merged['nesterov']!r}")
        if merged["nesterov"] and (merged["momentum"] <= 0 or merged["dampening"] != 0):
            raise ValueError(f"{who}: nesterov momentum requires momentum > 0 and dampening = 0, but got momentum "
                             f"{merged['momentum']} and dampening {merged['dampening']}")
    elif name in ("adam", "adamw"):
        betas = merged["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{who}: expected optimizer_options['betas'] to be a pair (beta1, beta2), but got "
                             f"{betas!r}")
        merged["betas"] = (_real(who, "betas[0]", betas[0], 0.0, 1.0, False, True),
                           _real(who, "betas[1]", betas[1], 0.0, 1.0, False, True))
        merged["eps"] = _real(who, "eps", merged["eps"], 0.0, math.inf, True, True)
    return OptimizerSpec(name, merged)


LearningRate = Union[float, Callable[[int], float]]


def learning_rate_now(lr: LearningRate, step: int, who: str) -> float:
    """lr, or lr(step) for a schedule evaluated per chunk (step: the optimiser steps taken so far); a finite
    number >= 0 either way."""
    value = lr(step) if callable(lr) else lr
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 <= value < math.inf):
        source = f"lr({step})" if callable(lr) else "lr"
        raise ValueError(f"{who}: expected {source} to be a finite number >= 0, but got {value!r}")
    return float(value)


def finite_nonnegative(who: str, name: str, value) -> float:
    """lr, l2: a finite real number >= 0 (a 1-element tensor too); TypeError / ValueError naming ``name``."""
    if isinstance(value, Tensor) and value.numel() == 1 and value.dtype != torch.bool and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: expected {name} to be a finite number >= 0, but got {type(value).__name__} "
                        f"{value!r}")
    if not (value >= 0.0 and value != float("inf")):
        raise ValueError(f"{who}: expected {name} to be a finite number >= 0, but got {value}")
    return float(value)


def check_lr_schedule(lr_schedule, T: int, x: Tensor, who: str) -> Optional[Tensor]:
    """A fit's per-step learning rates: a (T,) tensor of finite values >= 0, as x's dtype and device (None: none)."""
    if lr_schedule is None:
        return None
    if not isinstance(lr_schedule, Tensor) or lr_schedule.dim() != 1 or lr_schedule.shape[0] != T:
        got = list(lr_schedule.shape) if isinstance(lr_schedule, Tensor) else type(lr_schedule).__name__
        raise ValueError(f"{who}: expected lr_schedule to be a 1-D tensor of one learning rate per step (T = {T}), "
                         f"but got {got}")
    schedule = lr_schedule.detach().to(dtype=x.dtype, device=x.device).contiguous()
    if not bool(torch.isfinite(schedule).all()) or bool((schedule < 0).any()):
        raise ValueError(f"{who}: expected every value of lr_schedule to be a finite number >= 0")
    return schedule
