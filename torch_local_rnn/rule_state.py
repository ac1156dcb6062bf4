"""The rule-specific state a module keeps in its state_dict: generator states held in buffers (drawn from
atomically) and the rule identity that tells which rule that state belongs to. Shared by LocalRNN and
OnlineLearner."""
import json
import threading
from typing import List

import torch
from torch import Tensor

from . import ops

# Held around every read-draw-write of a generator state kept in a buffer (LocalRNN's and OnlineLearner's
# rng_state): threads sharing a module draw disjoint noise, and the state ends where sequential calls end it.
# One lock for the package (not one per module: a module stays deep-copyable, picklable and scriptable); only
# the short draw runs under it, never an op.
RNG_LOCK = threading.Lock()
# The key under which a module's state_dict records the rule its rule-specific state belongs to.
RULE_IDENTITY = "rule_identity"


def draw_from_buffer(buffer: Tensor, draw):
    """Runs draw(generator) from the generator state in ``buffer`` and stores the advanced state there, as one
    atomic step (RNG_LOCK). Returns (draw's result, state before, state after): pass the two states to
    undraw_buffer when the call the draw was for fails."""
    with RNG_LOCK:
        before = buffer.detach().cpu().clone()
        g = torch.Generator()
        g.set_state(before)
        out = draw(g)
        after = g.get_state()
        buffer.copy_(after)
    return out, before, after


def undraw_buffer(buffer: Tensor, before: Tensor, after: Tensor) -> None:
    """Puts back the state a failed call drew from, unless another draw has advanced it since (then that
    draw's state stays: the failed call's noise is simply skipped)."""
    with RNG_LOCK:
        if torch.equal(buffer.detach().cpu(), after):
            buffer.copy_(before)


def check_generator_state(value, who: str, name: str = "rng_state") -> None:
    """A state_dict's generator state, checked when it is loaded (not at the first draw): a 1-D uint8 tensor a
    CPU torch.Generator accepts. RuntimeError naming ``name`` otherwise."""
    size = torch.Generator().get_state().numel()
    if not isinstance(value, Tensor) or value.dtype != torch.uint8 or value.dim() != 1:
        got = f"a {value.dim()}-D {value.dtype} tensor" if isinstance(value, Tensor) else type(value).__name__
        raise RuntimeError(f"{who}: expected {name} to be the state of a CPU torch.Generator (a 1-D uint8 tensor of "
                           f"{size} bytes), but got {got}")
    try:
        torch.Generator().set_state(value.detach().cpu().clone())  # a view into a larger storage crashes set_state
    except RuntimeError as error:
        raise RuntimeError(f"{who}: {name} is not a valid state of a CPU torch.Generator: "
                           f"{str(error).splitlines()[0]}") from None


def seed_from_generator_state(state: Tensor) -> int:
    """A counter-based noise seed in [0, 2^62) from a (checked) CPU generator state: how LocalRNN loads the
    rng_state of a checkpoint written before its noise was drawn inside the op (docs/algorithms.md §2.5)."""
    g = torch.Generator()
    g.set_state(state.detach().cpu().clone())
    return int(torch.randint(0, 2 ** 62, (1,), generator=g))


def encode_identity(rule: str, options: List[float]) -> Tensor:
    """The rule a module's rule-specific state belongs to, as a state_dict entry: the UTF-8 JSON of
    {"rule": name, "options": [...]} in a uint8 tensor (a tensor, so that code cloning, comparing or moving every
    entry of a state_dict keeps working)."""
    text = json.dumps({"rule": rule, "options": [float(v) for v in options]}, sort_keys=True)
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8)


def decode_identity(value, who: str) -> dict:
    try:
        identity = json.loads(bytes(value.detach().cpu().tolist()).decode("utf-8"))
        assert isinstance(identity, dict) and isinstance(identity["rule"], str)
        identity["options"] = [float(v) for v in identity["options"]]
        return identity
    except Exception:  # noqa: BLE001  (anything unreadable is the same error)
        raise RuntimeError(f"{who}: the state_dict's {RULE_IDENTITY} is not a rule identity (a uint8 tensor of "
                           f"JSON written by state_dict()); it cannot be checked") from None


def describe_identity(identity: dict) -> str:
    """'f_bptt' (truncation=20): the rule and its options by name where the library knows the rule."""
    rule, options = identity["rule"], identity["options"]
    try:
        names = ops.rule_info(rule).option_names
    except RuntimeError:
        names = ()
    if len(options) <= len(names):
        shown = ", ".join(f"{k}={v:g}" for k, v in zip(names, options)) or "default options"
    else:
        shown = f"rule_options {options}"
    return f"'{rule}' ({shown})"
