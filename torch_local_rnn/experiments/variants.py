"""Rule variants: a rule with some options fixed, named ``RULE@KEY=VALUE[@KEY=VALUE...]`` (``kernl@lr=1``), so that a
sweep of a rule's hyper-parameters is a list of rules in one compare (``--sweep kernl.lr=0,1,5``) whose runs stack
with the rule's other variants and seeds (members of one OnlineEnsemble may differ in rule options)."""
import itertools
from typing import Any, Dict, List, Sequence, Tuple


def parse_value(text: str) -> Any:
    """A command-line option value: true/false, none, an int, a float, or else the string itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def split_variant(name: str) -> Tuple[str, Dict[str, Any]]:
    """"kernl@lr=1@sigma=0.001" -> ("kernl", {"lr": 1, "sigma": 0.001}); a plain name has no options."""
    base, *parts = name.split("@")
    options: Dict[str, Any] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected a rule variant as RULE@KEY=VALUE[@KEY=VALUE...], but got '{name}'")
        options[key.strip()] = parse_value(value)
    return base, options


def variant_name(base: str, options: Dict[str, Any]) -> str:
    return base + "".join(f"@{k}={v}" for k, v in options.items())


def expand_sweeps(rules: Sequence[str], sweeps: Dict[str, Dict[str, List[Any]]]) -> Tuple[str, ...]:
    """``rules`` with each swept rule replaced by its variants (the product of its swept options, in order), or
    the variants appended when the rule is not among ``rules``. sweeps: {rule: {option: [values]}}."""
    out: List[str] = []
    done = set()
    for rule in list(rules) + [r for r in sweeps if r not in rules]:
        if rule in sweeps and rule not in done:
            keys = list(sweeps[rule])
            for values in itertools.product(*(sweeps[rule][k] for k in keys)):
                out.append(variant_name(rule, dict(zip(keys, values))))
            done.add(rule)
        elif rule not in sweeps:
            out.append(rule)
    return tuple(out)


def parse_sweeps(items: Sequence[str], flag: str = "--sweep") -> Dict[str, Dict[str, List[Any]]]:
    """["kernl.lr=0,1,5", "kernl.sigma=1e-3,1e-7"] -> {"kernl": {"lr": [0, 1, 5], "sigma": [0.001, 1e-07]}}."""
    out: Dict[str, Dict[str, List[Any]]] = {}
    for item in items or ():
        key, sep, values = item.partition("=")
        rule, dot, option = key.strip().partition(".")
        if not sep or not dot or not rule or not option or not values.strip():
            raise ValueError(f"{flag}: expected RULE.OPTION=V1,V2,... (e.g. kernl.lr=0,1,5), but got '{item}'")
        out.setdefault(rule, {})[option] = [parse_value(v) for v in values.split(",") if v.strip()]
    return out
