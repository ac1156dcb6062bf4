"""The primitives of the fakes' checks (ops.py), Python twins of csrc/common/checks.h with the same messages, and
what the kernels read beyond the rule registry (no registry op says it): the layouts of rule_tensors
(csrc/rules/factored/factored_layout.h, kernl.h, dni_layout.h) and the step counters a rule keeps in a state tensor of x's
dtype (online_checks.h check_counter_range). Calls no op and imports nothing of the package: ops.py imports it."""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

RECORDING_RULES = ("dni", "dni_b")  # fill ``record`` (their descriptors: records; rules.<Rule>.records, tested)
_DTYPES = {torch.float32: "Float", torch.float64: "Double", torch.float16: "Half", torch.bfloat16: "BFloat16",
           torch.int64: "Long", torch.int32: "Int", torch.int16: "Short", torch.int8: "Char", torch.uint8: "Byte",
           torch.bool: "Bool", torch.complex64: "ComplexFloat", torch.complex128: "ComplexDouble"}


def _register_fake(op: str):  # a decorator; no fakes before torch 2.4 (no register_fake)
    return getattr(torch.library, "register_fake", lambda name: (lambda fn: fn))(f"torch_local_rnn::{op}")


def _fail(op: str, message: str):
    raise RuntimeError(f"{op}: {message}")


def _shape_str(sizes) -> str:
    return "(" + ", ".join(str(s) for s in sizes) + ("," if len(sizes) == 1 else "") + ")"


def _hint(v) -> int:
    """A size as an int; a symbolic one's hint (the example's value): checking the rule's state adds no guards."""
    if not isinstance(v, torch.SymInt):
        return int(v)
    from torch.fx.experimental import symbolic_shapes as sym  # optimization_hint: torch >= 2.10, hint_int before
    return int((getattr(sym, "optimization_hint", None) or getattr(sym, "hint_int", None) or int)(v))


def _check_like(t: Optional[Tensor], ref: Tensor, op: str, name: str, ref_name: str = "x") -> None:
    if not isinstance(t, Tensor):
        _fail(op, f"expected {name} to be a tensor, but got an undefined tensor")
    if t.dtype != ref.dtype:
        _fail(op, f"expected {name} to have the dtype of {ref_name} ({_DTYPES.get(ref.dtype, ref.dtype)}), but got "
                  f"{_DTYPES.get(t.dtype, t.dtype)}")
    if t.device != ref.device:
        _fail(op, f"expected {name} to be on the device of {ref_name} ({ref.device}), but got {t.device}")


# ----------------------------------------------------------------------------- rule_tensors
def rule_tensor_layout(rule: str, form: str, T: int, B: int, n: int):
    """What the kernels of ``rule`` read as rule_tensors in ``form`` ("sequence", "online"): (the counts accepted,
    the words of the count error, [(name, shape, layout) per tensor]); ((0,), "", []) for the rules that read none."""
    if rule in ("uoro", "kf_rtrl", "rkf_rtrl"):
        width, words = (2, "2") if rule == "kf_rtrl" else (n, "hidden_size")
        return ((1,), f"[noise (seq_len, batch, {words})]",
                [(f"rule_tensors[0] ({rule} noise nu)", (T, B, width), f"(seq_len, batch, {words})")])
    if rule == "kernl" and form == "online":
        return ((1,), "[noise (seq_len, batch, hidden_size)]",
                [("rule_tensors[0] (kernl noise)", (T, B, n), "(seq_len, batch, hidden_size)")])
    if rule == "kernl":
        return ((2,), "[A (hidden_size, hidden_size), rates (hidden_size)]",
                [("rule_tensors[0] (kernl A)", (n, n), "(hidden_size, hidden_size)"),
                 ("rule_tensors[1] (kernl rates)", (n,), "(hidden_size,)")])
    if rule in RECORDING_RULES:
        return ((0, 1), "[] or [credit (seq_len, batch, hidden_size)] (the credit used in place of the synthetic "
                        "gradient U_t)",
                [("rule_tensors[0] (dni credit)", (T, B, n), "(seq_len, batch, hidden_size)")])
    return (0,), "", []


def _check_rule_tensors(op: str, rule: str, form: str, rule_tensors: Sequence[Tensor], x: Tensor, T, B, n) -> None:
    """The count of rule_tensors, then each one's dtype and device (x's) and shape, compared on the sizes' hints
    as the state's (no guards)."""
    counts, words, layouts = rule_tensor_layout(rule, form, _hint(T), _hint(B), _hint(n))
    if len(rule_tensors) not in counts:
        _fail(op, f"rule '{rule}' " + (f"expects rule_tensors = {words}" if words else "takes no rule_tensors")
                  + f", but got {len(rule_tensors)} tensors")
    for t, (name, shape, where) in zip(rule_tensors, layouts):
        if isinstance(t, Tensor) and t.dtype == torch.int64 and "noise" in name:  # a noise counter (common/noise.h)
            if t.dim() != 1 or _hint(t.shape[0]) != 3:
                _fail(op, f"expected {name} as a noise counter to be a 1-D int64 tensor [seed, offset, kind], but "
                          f"got shape {_shape_str(t.shape)}")
            continue
        _check_like(t, x, op, name)
        if t.dim() != len(shape):
            _fail(op, f"expected {name} to be {len(shape)}-D {where}, but got a {t.dim()}-D tensor of shape "
                      f"{_shape_str(t.shape)}")
        if tuple(_hint(s) for s in t.shape) != shape:
            _fail(op, f"expected {name} of shape {where} = {_shape_str(shape)} (-1: any), but got "
                      f"{_shape_str(t.shape)}")


# ----------------------------------------------------------------------------- step counters
# rule -> (the option bounding its counter, the factor of that option giving the counter's range, the state entry,
# the words of the message)
COUNTERS = {"f_bptt": ("truncation", 2, "state[3] (f_bptt count)", "twice the truncation"),
            "e_bptt": ("window", 1, "state[3] (e_bptt count)", "the window"),
            "dni": ("fix_interval", 1, "state[5] (dni count)", "fix_interval"),
            "dni_b": ("fix_interval", 1, "state[5] (dni_b count)", "fix_interval"),
            "kernl": ("reset_interval", 1, "state[7] (kernl count)", "reset_interval")}


def counter_error(rule: str, options: Sequence[float], option_names: Sequence[str],
                  option_defaults: Sequence[float]) -> Optional[str]:
    """The error of a float32 call whose counter may count past 2^24, where count + 1 rounds back to count (the
    ring index, the refresh or the reset would stop silently); None when it fits."""
    option, factor, counter, what = COUNTERS[rule]
    k = list(option_names).index(option)
    limit = factor * int(options[k] if k < len(options) else option_defaults[k])
    if limit <= 2 ** 24:
        return None
    return (f"{counter} counts up to {limit} ({what}) in x's dtype, but float32 holds integers exactly only up to "
            f"2^24 = {2 ** 24}; use float64, or a {what} within that range")


def _check_shape(t: Optional[Tensor], expected: Sequence, op: str, name: str, layout: str) -> None:
    """Rank and sizes; -1 in ``expected``: any size."""
    if not isinstance(t, Tensor):
        _fail(op, f"expected {name} to be a tensor, but got an undefined tensor")
    if t.dim() != len(expected):
        _fail(op, f"expected {name} to be {len(expected)}-D {layout}, but got a {t.dim()}-D tensor of shape "
                  f"{_shape_str(t.shape)}")
    if any(not (isinstance(e, int) and e < 0) and t.shape[d] != e for d, e in enumerate(expected)):
        _fail(op, f"expected {name} of shape {layout} = {_shape_str(expected)} (-1: any), but got "
                  f"{_shape_str(t.shape)}")


def _check_contiguous(t: Tensor, op: str, name: str) -> None:
    if not t.is_contiguous():
        _fail(op, f"expected {name} to be contiguous (it is updated in place), but got strides "
                  + _shape_str(t.stride()))


def _check_tensor(op: str, t: Tensor, x: Tensor, shape: Sequence, name: str, layout: str, inplace=False) -> None:
    """x's dtype and device, the shape; contiguous when the op writes it in place (check_state)."""
    _check_like(t, x, op, name)
    _check_shape(t, shape, op, name, layout)
    if inplace:
        _check_contiguous(t, op, name)


def _check_choice(value: str, choices: Tuple[str, ...], op: str, name: str) -> None:
    if value not in choices:
        _fail(op, f"expected {name} to be one of {', '.join(repr(c) for c in choices)}, but got '{value}'")


def _check_rate(value: float, op: str, name: str, rate: bool = True) -> None:
    """A rate in (0, 1]; with rate=False a finite number >= 0 (lr, l2)."""
    if rate and not 0.0 < value <= 1.0:
        _fail(op, f"expected {name} in (0, 1], but got {value:g}")
    if not rate and not (value >= 0.0 and math.isfinite(value)):
        _fail(op, f"expected {name} to be a finite number >= 0, but got {value:g}")


def _check_x(x: Tensor, op: str):
    """x: float32 / float64, 3-D (seq_len, batch, input_size), non-empty; its sizes."""
    if isinstance(x, Tensor) and x.dtype not in (torch.float32, torch.float64):
        _fail(op, f"expected x to be a float32 or float64 tensor, but got {_DTYPES.get(x.dtype, x.dtype)}")
    _check_shape(x, (-1, -1, -1), op, "x", "(seq_len, batch, input_size)")
    if x.numel() == 0:
        _fail(op, f"expected x to be non-empty, but got shape {_shape_str(x.shape)}")
    return x.shape


def _check_square(weight_hh: Tensor, x: Tensor, op: str, online: bool):
    """weight_hh square and non-empty; hidden_size. (The online ops check both at once, as check_online_args.)"""
    _check_like(weight_hh, x, op, "weight_hh")
    if not (weight_hh.dim() == 2 and weight_hh.shape[0] == weight_hh.shape[1]) or (online and weight_hh.numel() == 0):
        _fail(op, f"expected weight_hh to be a square 2-D (hidden_size, hidden_size) tensor, but got shape "
                  f"{_shape_str(weight_hh.shape)}")
    if weight_hh.shape[0] <= 0:
        _fail(op, f"expected hidden_size > 0, but got weight_hh of shape {_shape_str(weight_hh.shape)}")
    return weight_hh.shape[0]
