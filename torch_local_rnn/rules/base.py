"""Rule configs: small typed objects with the spec's defaults, accepted wherever a rule name is.

    LocalRNN(2, 32, rule="rflo")                    # by name, defaults
    LocalRNN(2, 32, rule=rules.RFLO(trace_alpha=0.3))
    OnlineLearner(LocalRNN(2, 32, rule=rules.FBPTT(truncation=21)), torch.nn.Linear(32, 2))

Each config says whether the rule has a sequence form (behind LocalRNN) and an online form (behind
OnlineLearner), the options its ops take, and the tensors it carries across online steps.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

import torch
from torch import Tensor


class _Rule:
    name = ""
    has_online_form = True
    has_sequence_form = True
    stochastic = False           # draws noise every step (rule_tensors of the ops) from a torch.Generator
    random_init = False          # online_state draws random initial values
    learned_state = ()           # online state that training learns (kept by OnlineLearner.reset_state)

    @property
    def sequence_name(self) -> str:
        """The rule string of the ops (leaky_rnn, online_learn)."""
        return self.name

    def sequence_options(self, alpha: float) -> List[float]:
        return []

    def online_options(self, alpha: float) -> List[float]:
        return self.sequence_options(alpha)

    def online_state(self, batch: int, hidden: int, inputs: int, *, outputs: int = 1,
                     generator: Optional[torch.Generator] = None, weight_hh: Optional[Tensor] = None,
                     **like) -> Dict[str, Tensor]:
        """The tensors the online form carries across steps (the op's ``state`` list, in order), initialised
        as the spec says, by buffer name. Random initial values are drawn from ``generator``."""
        return {}

    def noise(self, steps: int, batch: int, hidden: int, generator: Optional[torch.Generator] = None,
              **like) -> List[Tensor]:
        """The per-step noise the ops read (rule_tensors), drawn from ``generator``; [] for deterministic rules."""
        return []

    def sequence_tensors(self, hidden: int, **like) -> Dict[str, Tensor]:
        """Fixed tensors the sequence form reads (rule_tensors after the noise), by buffer name."""
        return {}


def _like(kw) -> dict:
    """The dtype/device keywords of online_state's keyword arguments."""
    return {k: v for k, v in kw.items() if k in ("dtype", "device")}


def _positive_int(who: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{who}: expected {name} to be an integer >= 1, but got {value!r}")


def _history_state(steps: int, batch: int, hidden: int, inputs: int, **like) -> Dict[str, Tensor]:
    """What the truncated BPTTs carry: the last ``steps`` steps' phi'(h), presynaptic vector and credit,
    and a step count."""
    return {"dphi_history": torch.zeros(steps, batch, hidden, **like),
            "input_history": torch.zeros(steps, batch, hidden + inputs + 1, **like),
            "credit_history": torch.zeros(steps, batch, hidden, **like),
            "count": torch.zeros(1, **like)}


@dataclass(frozen=True)
class BPTT(_Rule):
    """Exact backpropagation through time (the reference every rule approximates); sequence form only:
    its credit needs the future of the stream. F-BPTT and E-BPTT are its online truncations."""

    name = "bptt"
    has_online_form = False


@dataclass(frozen=True)
class OutputOnly(_Rule):
    """Only the readout learns (algorithms.md §3.1): the no-recurrent-learning floor."""

    name = "output_only"


@dataclass(frozen=True)
class RTRL(_Rule):
    """Real-time recurrent learning (algorithms.md §3.2): exact forward-mode credit through the influence
    matrix M (B, n, n*m), O(n^4) per step. With frozen weights it equals BPTT."""

    name = "rtrl"

    legacy_alpha_omission: bool = False

    def sequence_options(self, alpha):
        return [1.0] if self.legacy_alpha_omission else []

    def online_state(self, batch, hidden, inputs, **kw):
        m = hidden + inputs + 1
        return {"influence": torch.zeros(batch, hidden, hidden * m, **_like(kw))}


@dataclass(frozen=True)
class FBPTT(_Rule):
    """Future-facing truncated BPTT (algorithms.md §3.9): every step sends its error back ``truncation``
    steps and applies the update of the step ``truncation - 1`` in the past (21 in the JMLR runs)."""

    truncation: int = 21
    legacy_alpha_omission: bool = False
    name = "f_bptt"

    def __post_init__(self):
        _positive_int("FBPTT", "truncation", self.truncation)

    def sequence_options(self, alpha):
        return [float(self.truncation)] + ([1.0] if self.legacy_alpha_omission else [])

    def online_state(self, batch, hidden, inputs, **kw):
        return _history_state(self.truncation, batch, hidden, inputs, **_like(kw))


@dataclass(frozen=True)
class EBPTT(_Rule):
    """Efficient truncated BPTT (algorithms.md §3.10): exact BPTT inside non-overlapping windows of
    ``window`` steps, applied once per window."""

    window: int = 20
    legacy_alpha_omission: bool = False
    name = "e_bptt"

    def __post_init__(self):
        _positive_int("EBPTT", "window", self.window)

    def sequence_options(self, alpha):
        return [float(self.window)] + ([1.0] if self.legacy_alpha_omission else [])

    def online_state(self, batch, hidden, inputs, **kw):
        return _history_state(self.window, batch, hidden, inputs, **_like(kw))


@dataclass(frozen=True)
class RFLO(_Rule):
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

    @property
    def sequence_name(self) -> str:
        return "rflo"


from .rules_factored import KFRTRL, RKFRTRL, UORO  # noqa: E402  (they build on _Rule)
from .rules_auxiliary import DNI, DNIb, KeRNL  # noqa: E402

RULES = {cls.name: cls for cls in (BPTT, OutputOnly, RTRL, UORO, KFRTRL, RKFRTRL, RFLO, KeRNL, DNI, DNIb, FBPTT,
                                   EBPTT, EProp)}
Rule = Union[str, _Rule]


def resolve(rule: Rule):
    """A rule config from a name or a config; the error lists the known names."""
    if isinstance(rule, str):
        if rule not in RULES:
            raise ValueError(f"expected rule to be one of {sorted(RULES)} or a rules config, but got '{rule}'")
        return RULES[rule]()
    if isinstance(rule, _Rule):
        return rule
    raise TypeError(f"expected rule to be a rule name or a rules config, but got {type(rule).__name__}")
