"""Rule configs: small typed objects with the spec's defaults, accepted wherever a rule name is.

    LocalRNN(2, 32, rule="rflo")                    # by name, defaults
    LocalRNN(2, 32, rule=rules.RFLO(trace_alpha=0.3))
    OnlineLearner(LocalRNN(2, 32, rule=rules.FBPTT(truncation=21)), torch.nn.Linear(32, 2))

Each config says whether the rule has a sequence form (behind LocalRNN) and an online form (behind
OnlineLearner), the options its ops take, and the tensors it carries across online steps.

One module per family, all on base._Rule (base imports none of them): exact (BPTT, OutputOnly, RTRL),
truncated (FBPTT, EBPTT), rflo (RFLO, EProp), factored (UORO, KFRTRL, RKFRTRL and their noise, draw_noise),
kernl (KeRNL), dni (DNI, DNIb).
"""
import torch

from .base import Rule, _Rule
from .dni import DNI, DNIb
from .exact import BPTT, RTRL, OutputOnly
from .factored import KFRTRL, NOISE_KINDS, RKFRTRL, UORO, draw_noise, standard_normal
from .kernl import KERNL_VERSIONS, PERTURBED_INITS, KeRNL
from .rflo import RFLO, EProp
from .truncated import EBPTT, FBPTT

RULES = {cls.name: cls for cls in (BPTT, OutputOnly, RTRL, UORO, KFRTRL, RKFRTRL, RFLO, KeRNL, DNI, DNIb, FBPTT,
                                   EBPTT, EProp)}

# Checkpoints that hold a config (e.g. a Lightning module's hyper-parameters) load with
# torch.load(weights_only=True), PyTorch's default: the configs are plain data (a class and its fields).
torch.serialization.add_safe_globals(list(RULES.values()))


def resolve(rule: Rule):
    """A rule config from a name or a config; the error lists the known names."""
    if isinstance(rule, str):
        if rule not in RULES:
            raise ValueError(f"expected rule to be one of {sorted(RULES)} or a rules config, but got '{rule}'")
        return RULES[rule]()
    if isinstance(rule, _Rule):
        return rule
    raise TypeError(f"expected rule to be a rule name or a rules config, but got {type(rule).__name__}")


__all__ = ["RULES", "Rule", "resolve", "BPTT", "OutputOnly", "RTRL", "FBPTT", "EBPTT", "RFLO", "EProp", "UORO",
           "KFRTRL", "RKFRTRL", "KeRNL", "DNI", "DNIb", "draw_noise", "standard_normal", "NOISE_KINDS",
           "KERNL_VERSIONS", "PERTURBED_INITS"]
