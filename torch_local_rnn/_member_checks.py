"""The stacking checks of online_learn_members' fake (ops.py), the Python twin of member_views in
csrc/common/online_learn_members_impl.h with its messages: the member dimension of every stacked tensor and the
lengths of the per-member lists; then each member's online_learn arguments (views, slices), which the fake
checks as online_learn's fake does, the errors renamed to the member. Calls no op: ops.py imports it."""
import contextlib
from typing import Dict, List, Optional, Sequence, Tuple

from torch import Tensor

from ._checks import _fail, _shape_str

OP = "online_learn_members"


def _member_of(t: Optional[Tensor], E: int, e: int, name: str, layout: str) -> Optional[Tensor]:
    if t is None:
        return None
    if not (t.dim() >= 1 and t.shape[0] == E):
        _fail(OP, f"expected {name} of shape {layout} with members = {E} (the length of alpha), but got shape "
                  f"{_shape_str(t.shape)}")
    return t.select(0, e)


def _member_input(t: Tensor, E: int, e: int, name: str, size: str) -> Tensor:
    if not (t.dim() == 3 or (t.dim() == 4 and t.shape[1] == E)):
        _fail(OP, f"expected {name} of shape (seq_len, batch, {size}) shared by the members or (seq_len, members, "
                  f"batch, {size}) with members = {E} (the length of alpha), but got shape {_shape_str(t.shape)}")
    return t if t.dim() == 3 else t.select(1, e)


def _check_list(size: int, E: int, name: str, optional: bool) -> None:
    if not (size == E or (optional and size == 0)):
        _fail(OP, f"expected {name} to hold one value per member ({E}, the length of alpha)"
                  f"{' or none' if optional else ''}, but got {size} values")


def _slice(values: Sequence[float], E: int, e: int, name: str) -> List[float]:
    if len(values) % E:
        _fail(OP, f"expected {name} to hold the same number of values for each of the {E} members (members x "
                  f"values, member-major), but got {len(values)} values")
    k = len(values) // E
    return list(values[e * k:(e + 1) * k])


_STACKED = (("hidden", "(members, batch, hidden_size)"), ("weight_hh", "(members, hidden_size, hidden_size)"),
            ("weight_ih", "(members, hidden_size, input_size)"), ("bias", "(members, hidden_size)"),
            ("weight_out", "(members, output_size, hidden_size)"), ("bias_out", "(members, output_size)"),
            ("rec_grad", "(members, hidden_size, hidden_size + input_size + 1)"),
            ("feedback", "(members, output_size, hidden_size)"),
            ("record", "(members, seq_len, batch, 4, hidden_size)"),
            ("optimizer_state", "(members, optimizer_state_numel)"), ("credit", "(members, seq_len, batch, hidden_size)"))


def member_calls(a: Dict) -> List[Tuple[str, Dict]]:
    """(the member's op name, its online_learn arguments by name) of every member of the call ``a`` (the fake's
    arguments by name), in member_views' order of checks."""
    alpha = list(a["alpha"])
    if not alpha:
        _fail(OP, "expected alpha to hold one value per member (at least one member), but got an empty list")
    E = len(alpha)
    _check_list(len(a["lr"]), E, "lr", False)
    _check_list(len(a["l2"]), E, "l2", True)
    _check_list(len(a["optimizer_steps"]), E, "optimizer_steps", True)
    calls = []
    for e in range(E):
        c = dict(a)
        c["x"] = _member_input(a["x"], E, e, "x", "input_size")
        c["y"] = _member_input(a["y"], E, e, "y", "output_size")
        for name, layout in _STACKED[:6]:
            c[name] = _member_of(a[name], E, e, name, layout)
        c["state"] = [_member_of(t, E, e, "state", "(members, ...)") for t in a["state"]]
        c["rule_tensors"] = [_member_of(t, E, e, "rule_tensors", "(members, ...)") for t in a["rule_tensors"]]
        for name, layout in _STACKED[6:]:
            c[name] = _member_of(a[name], E, e, name, layout)
        schedule = a["lr_schedule"]
        if schedule is not None and schedule.dim() != 1:
            c["lr_schedule"] = _member_of(schedule, E, e, "lr_schedule", "(members, seq_len)")
        c["alpha"], c["lr"] = alpha[e], a["lr"][e]
        c["l2"] = a["l2"][e] if len(a["l2"]) else 0.0
        c["optimizer_steps"] = a["optimizer_steps"][e] if len(a["optimizer_steps"]) else 0
        c["rule_options"] = _slice(a["rule_options"], E, e, "rule_options")
        c["optimizer_options"] = _slice(a["optimizer_options"], E, e, "optimizer_options")
        calls.append((f"{OP} (member {e})", c))
    return calls


@contextlib.contextmanager
def renamed(op: str, label: str):
    """Re-raises the RuntimeError of ``op``'s checks ("online_learn: ...") as the member's ("online_learn_members
    (member e): ..."), as the kernel names it."""
    try:
        yield
    except RuntimeError as error:
        message = str(error)
        if message.startswith(op + ": "):
            raise RuntimeError(label + message[len(op):]) from None
        raise
