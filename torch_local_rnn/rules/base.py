"""The base of every rule config (_Rule) and the helpers the rule families share. Imports no other module
of torch_local_rnn.rules: each family (exact, truncated, rflo, factored, kernl, dni) builds on this one."""
from typing import Any, Dict, List, Optional, Union

import torch
from torch import Tensor

from .. import ops


# The papers whose runs ``_Rule.paper(year)`` reproduces (docs/algorithms.md §6.5).
PAPER_YEARS = {2019: "the 2019 code: the local-rule model of Marschall, Cho & Savin (2019) and the first version of "
                     "the JMLR paper (July 2019)",
               2020: "the JMLR paper's final runs (Marschall, Cho & Savin 2020)"}


class _Rule:
    name = ""
    # The options of the papers' runs, per year, where they differ from the defaults (docs/algorithms.md §6.5).
    # A subclass's entries add to (and override) its base's.
    paper_options: Dict[int, Dict[str, Any]] = {}
    has_online_form = True
    has_sequence_form = True
    stochastic = False           # draws noise every step (rule_tensors of the ops) from a torch.Generator
    random_init = False          # online_state draws random initial values
    learned_state = ()           # online state that training learns (kept by OnlineLearner.reset_state)
    sequence_noise = False       # the sequence form reads per-step noise too (LocalRNN draws it every forward)
    records = False              # the online op fills ``record`` with per-step signals (fit(record=True))
    label_state = None           # the state buffer that holds the previous label y*_{t-1}: y*_0 before step 1

    @classmethod
    def paper(cls, year: int = 2020) -> "_Rule":
        """This rule with the settings of the papers' runs (docs/algorithms.md §6.5): 2019, the 2019 code (e.g.
        ``DNIb.paper(2019)``: lr_sg = lr_j = 1e-2, version 2019, random feedback); 2020, the JMLR paper's final
        grid. Options the papers do not set keep their defaults; ``dataclasses.replace`` changes any of them."""
        if isinstance(year, bool) or year not in PAPER_YEARS:
            raise ValueError(f"{cls.__name__}.paper: expected year from {sorted(PAPER_YEARS)} "
                             f"({'; '.join(f'{y}: {d}' for y, d in PAPER_YEARS.items())}), but got {year!r}")
        options: Dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            options.update(klass.__dict__.get("paper_options", {}).get(year, {}))
        return cls(**options)

    def sequence_options(self, alpha: float) -> List[float]:
        return []

    def online_options(self, alpha: float) -> List[float]:
        return self.sequence_options(alpha)

    def online_state(self, batch: int, hidden: int, inputs: int, *, outputs: int = 1,
                     generator: Optional[torch.Generator] = None, weight_hh: Optional[Tensor] = None,
                     **like) -> Dict[str, Tensor]:
        """The tensors the online form carries across steps (the op's ``state`` list, in order), initialised
        as docs/algorithms.md §3 says, by buffer name. Random initial values are drawn from ``generator``."""
        return {}

    def noise(self, steps: int, batch: int, hidden: int, generator: Optional[torch.Generator] = None,
              **like) -> List[Tensor]:
        """The per-step noise the ops read (rule_tensors), drawn from ``generator``; [] for deterministic rules."""
        return []

    def sequence_tensors(self, hidden: int, **like) -> Dict[str, Tensor]:
        """Fixed tensors the sequence form reads (rule_tensors after the noise), by buffer name."""
        return {}

    def check(self, alpha: float, form: str, who: str) -> None:
        """Checks this config's options for a network of this alpha against the library's descriptor of the rule
        (the op rule_check): a module calls it when the config is handed to it, so a bad config fails there,
        not at the first backward. ``form``: "sequence" or "online"; the ValueError names ``who``."""
        options = self.sequence_options(alpha) if form == "sequence" else self.online_options(alpha)
        try:
            ops.check_rule(self.name, options, alpha, form)
        except RuntimeError as error:  # "rule_check: <what>" -> "<who>: <what>"
            raise ValueError(f"{who}: {str(error).splitlines()[0].partition(': ')[2]}") from None


Rule = Union[str, _Rule]


def _like(kw) -> dict:
    """The dtype/device keywords of online_state's keyword arguments."""
    return {k: v for k, v in kw.items() if k in ("dtype", "device")}


def _positive_int(who: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{who}: expected {name} to be an integer >= 1, but got {value!r}")


def _nonnegative(who: str, **values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0.0 or v == float("inf"):
            raise ValueError(f"{who}: expected {name} to be a finite number >= 0, but got {v!r}")


def _check_feedback(who: str, feedback) -> None:
    if isinstance(feedback, str) and feedback not in ("symmetric", "random"):
        raise ValueError(f"{who}: expected feedback to be 'symmetric', 'random' or a tensor, but got '{feedback}'")
    if not isinstance(feedback, (str, Tensor)):
        raise TypeError(f"{who}: expected feedback to be a str or a tensor, but got {type(feedback).__name__}")
