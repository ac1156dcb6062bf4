"""The papers' configurations as named presets (docs/algorithms.md §6.5): a task, a network, a protocol and the
rules with the settings of the papers' runs (``rules.<Rule>.paper(year)``), as CompareConfig fields.

    python -m torch_local_rnn compare --preset p1-2019 --seeds 20          # the 2019 showcase
    python -m torch_local_rnn compare --preset jmlr-2020 --task-option difficulty=3
    config = preset_config("p1-2019", seeds=5)                             # the same from Python

Flags (or keyword arguments) given explicitly win over the preset's; ``--rule-option`` adds to its rule options.
"""
import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Tuple

from .. import rules
from .config import CompareConfig
from .variants import split_variant

JMLR_RULES = ("output_only", "rtrl", "uoro", "kf_rtrl", "rkf_rtrl", "rflo", "kernl", "dni", "dni_b", "f_bptt",
              "e_bptt")


@dataclass(frozen=True)
class Preset:
    """A paper's configuration: what it is, the year of its rule settings and the CompareConfig fields."""

    description: str
    year: int
    fields: Dict[str, Any]


PRESETS: Dict[str, Preset] = {
    # §6.1, the Feb-2019 job "alpha03_tau4_checkpoints": the 2019 code's Coin(4, 6) = Add(3, 5), alpha 0.3,
    # tau 4, deterministic labels; SGD lr 5e-4 with L2 1e-4; each run from a random state; a test every
    # 2,000 steps on a 5,000-step stream, stopping at the first one below 0.52 (the best model is kept: the
    # result's best_test_loss). RFLO (alpha_R = alpha, random feedback) and the readout alone beside DNI(b).
    "p1-2019": Preset(
        "the 2019 paper's showcase: DNI(b) on Add(3, 5), alpha 0.3, tau 4", 2019,
        dict(mode="online", rules=("dni_b", "rflo", "output_only"), task="add",
             task_options={"t1": 3, "t2": 5, "tau": 4, "deterministic": True}, hidden=32, alpha=0.3, batch=1,
             lr=5e-4, l2=1e-4, steps=200_000, test_steps=5_000, test_streams=1, eval_every=2_000,
             initial_state="random", test_state="random", stop_below=0.52)),
    # §6.3: the JMLR grid's cell (Add family, d = 0 unless --task-option difficulty=D; --task mimic for the other
    # family): every online rule, SGD lr 1e-4, 10^6 steps; training from zeros (v2020), the test stream from a
    # random state.
    "jmlr-2020": Preset(
        "the JMLR paper's grid cell: every online rule, n 32, SGD lr 1e-4, 10^6 steps", 2020,
        dict(mode="online", rules=JMLR_RULES, task="add", task_options={"difficulty": 0}, hidden=32, alpha=1.0,
             batch=1, lr=1e-4, steps=1_000_000, test_steps=10_000, test_streams=1, test_state="random")),
}


def paper_rule_options(names: Tuple[str, ...], year: int) -> Dict[str, Dict[str, Any]]:
    """{rule: the options of rules.<Rule>.paper(year) that differ from the defaults} for ``names``."""
    out = {}
    for name in dict.fromkeys(split_variant(n)[0] for n in names):
        cls = rules.RULES[name]
        paper, default = cls.paper(year), cls()
        changed = {f.name: getattr(paper, f.name) for f in dataclasses.fields(cls)
                   if getattr(paper, f.name) != getattr(default, f.name)}
        if changed:
            out[name] = changed
    return out


def preset_fields(name: str) -> Dict[str, Any]:
    """The CompareConfig fields of preset ``name`` (rule_options from the rules' paper settings)."""
    if name not in PRESETS:
        raise ValueError(f"expected a preset from {sorted(PRESETS)}, but got '{name}'")
    preset = PRESETS[name]
    fields = dict(preset.fields, preset=name)
    fields["task_options"] = dict(fields.get("task_options", {}))
    fields["rule_options"] = paper_rule_options(tuple(fields["rules"]), preset.year)
    return fields


def preset_config(name: str, **overrides) -> CompareConfig:
    """CompareConfig of preset ``name``; ``overrides`` replace its fields, except ``task_options`` and
    ``rule_options``, which are merged into the preset's (per rule for rule_options). Another ``task`` keeps only
    the preset's difficulty; options of a rule that ``rules=`` leaves out are dropped with it."""
    fields = preset_fields(name)
    task_options = fields["task_options"]
    if overrides.get("task", fields["task"]) != fields["task"]:  # another task: only the difficulty carries over
        task_options = {k: v for k, v in task_options.items() if k == "difficulty"}
    task_options = dict(task_options, **overrides.pop("task_options", {}))
    rule_options = {r: dict(o) for r, o in fields["rule_options"].items()}
    for rule, options in overrides.pop("rule_options", {}).items():
        rule_options.setdefault(rule, {}).update(options)
    fields.update(overrides)
    chosen = set(fields["rules"]) | {split_variant(r)[0] for r in fields["rules"]}  # a variant's rule too
    fields["task_options"] = task_options
    fields["rule_options"] = {r: o for r, o in rule_options.items() if r in chosen}
    return CompareConfig(**fields)


def describe_presets() -> str:
    """One line per preset, for --help."""
    return "; ".join(f"{name}: {p.description}" for name, p in PRESETS.items())
