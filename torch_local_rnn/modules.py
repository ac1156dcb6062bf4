"""LocalRNN: a drop-in for torch.nn.RNN whose recurrent weights learn by a chosen rule."""
import json
import numbers
import threading
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from . import init, ops, rules
from .rules import draw_noise

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


class LocalRNN(nn.Module):
    """Single-layer leaky RNN (docs/algorithms.md §1), used like torch.nn.RNN:

        h_t = W_hh a_{t-1} + W_ih x_t + b,   a_t = (1 - alpha) a_{t-1} + alpha phi(h_t)

    ``out, h_n = rnn(x, h0)`` with x of shape (T, B, input_size) ((B, T, input_size) when
    batch_first, (T, input_size) unbatched) and h0 of shape (1, B, hidden_size) or (B, hidden_size)
    (zeros when omitted). ``out`` holds a_1..a_T, ``h_n`` = a_T with shape (1, B, hidden_size).

    On backward, weight_hh, weight_ih and bias receive the rule's estimate: the exact gradient
    for ``rule="bptt"``, RFLO's for ``rule="rflo"`` (computed from dL/da_t without propagating
    through time), and so on for every rule with a sequence form (rules.RULES). Changing ``rule``
    is the only change between the pipelines. The stochastic rules (uoro, kf_rtrl, rkf_rtrl) draw
    fresh noise every forward call from the module's generator (buffer ``rng_state``); KeRNL reads its
    mixing matrix and rates from the buffers ``kernl_mixing`` and ``kernl_rates``.

    The state_dict of a module with such rule state also records its rule (``rule_identity``), and
    load_state_dict refuses another rule's rng_state / kernl_* (the weights alone load into any rule).

    Initialisation (docs/algorithms.md §1.1): orthogonal weight_hh, N(0, 1/input_size) weight_ih,
    zero bias, drawn from ``generator``; pass ``weight_hh``/``weight_ih``/``bias`` to set them.
    """

    __constants__ = ["input_size", "hidden_size", "alpha", "nonlinearity", "rule_name", "batch_first", "stochastic"]
    # Declared here so TorchScript knows the type even when the list is empty (rule="bptt").
    rule_options: List[float]

    def __init__(self, input_size: int, hidden_size: int, alpha: float = 1.0, nonlinearity: str = "tanh",
                 rule: rules.Rule = "bptt", batch_first: bool = False, *, weight_hh: Optional[Tensor] = None,
                 weight_ih: Optional[Tensor] = None, bias: Optional[Tensor] = None,
                 generator: Optional[torch.Generator] = None, device=None, dtype=None):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int):  # as torch.nn.RNN: no silent int(2.5)
                raise TypeError(f"LocalRNN: {name} should be of type int, got: {type(value).__name__}")
        if int(input_size) <= 0 or int(hidden_size) <= 0:
            raise ValueError(f"LocalRNN: expected input_size and hidden_size > 0, but got {input_size}, {hidden_size}")
        if isinstance(alpha, (bool, str)) or not isinstance(alpha, (numbers.Real, Tensor)):
            raise TypeError(f"LocalRNN: expected alpha to be a number in (0, 1], but got {type(alpha).__name__} "
                            f"{alpha!r}")
        if not 0.0 < float(alpha) <= 1.0:
            raise ValueError(f"LocalRNN: expected alpha in (0, 1], but got {alpha}")
        if nonlinearity not in ("tanh", "relu", "sigmoid"):
            raise ValueError(f"LocalRNN: expected nonlinearity to be one of 'tanh', 'relu', 'sigmoid', "
                             f"but got '{nonlinearity}'")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.alpha, self.nonlinearity, self.batch_first = float(alpha), nonlinearity, bool(batch_first)
        self.rule = rules.resolve(rule)
        if not self.rule.has_sequence_form:
            raise ValueError(f"LocalRNN: rule '{self.rule.name}' has no sequence form; train it with OnlineLearner")
        self.rule.check(self.alpha, "sequence", "LocalRNN")
        self.rule_name: str = self.rule.name
        self.rule_options: List[float] = self.rule.sequence_options(self.alpha)
        dtype = dtype or torch.get_default_dtype()
        n, i = self.hidden_size, self.input_size
        given = {"weight_hh": (weight_hh, (n, n), lambda: init.orthogonal(n, generator, dtype)),
                 "weight_ih": (weight_ih, (n, i), lambda: init.normal(n, i, i, generator, dtype)),
                 "bias": (bias, (n,), lambda: torch.zeros(n, dtype=dtype))}
        for name, (value, shape, default) in given.items():
            if value is not None and tuple(value.shape) != shape:
                raise ValueError(f"LocalRNN: expected {name} of shape {shape}, but got {tuple(value.shape)}")
            data = (default() if value is None else value.detach().clone()).contiguous()
            setattr(self, name, nn.Parameter(data.to(device=device, dtype=dtype)))
        self.stochastic: bool = self.rule.sequence_noise  # KeRNL's noise trains A online only
        # The noise of uoro / kf_rtrl / rkf_rtrl comes from a generator seeded from ``generator`` (or the
        # global one); its state is the buffer rng_state, so state_dict() saves it with the weights.
        # Plain attributes (not the config object), so a scripted module keeps them.
        self.noise_kind: str = getattr(self.rule, "noise_kind", "") if self.stochastic else ""
        self.noise_width: int = self.rule.noise_width(self.hidden_size) if self.stochastic else 0
        noise = torch.Generator()
        noise.manual_seed(int(torch.randint(0, 2 ** 62, (1,), generator=generator)) if self.stochastic else 0)
        self.register_buffer("rng_state", noise.get_state() if self.stochastic else None)
        # KeRNL's A and rates (the exact 2019 kernel draws its rates from ``generator``)
        fixed = self.rule.sequence_tensors(int(hidden_size), generator=generator, dtype=dtype, device=device)
        self.register_buffer("kernl_mixing", fixed.get("kernl_mixing"))
        self.register_buffer("kernl_rates", fixed.get("kernl_rates"))

    def forward(self, x: Tensor, h0: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        unbatched = x.dim() == 2
        if x.dim() not in (2, 3):
            raise ValueError(f"LocalRNN: expected x to be 2-D (seq_len, input_size) or 3-D "
                             f"(seq_len, batch, input_size), but got a {x.dim()}-D tensor of shape {list(x.shape)}")
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        batch = x.shape[1]
        if h0 is None:
            h = torch.zeros(batch, self.hidden_size, dtype=x.dtype, device=x.device)
        else:
            h = h0
            if unbatched and h.dim() == 1:
                h = h.unsqueeze(0)
            elif h.dim() == 3:
                if h.shape[0] != 1:
                    raise ValueError(f"LocalRNN: expected h0 of shape (1, batch, hidden_size) for one layer, "
                                     f"but got {list(h.shape)}")
                h = h[0]
        rule_tensors: List[Tensor] = []
        mixing, rates = self.kernl_mixing, self.kernl_rates
        if mixing is not None and rates is not None:
            rule_tensors += [mixing.to(x.dtype), rates.to(x.dtype)]
        if self.stochastic:
            out = self._noisy_leaky_rnn(x, h, rule_tensors)
        else:
            out = ops.leaky_rnn(x, h, self.weight_hh, self.weight_ih, self.bias, self.alpha, self.nonlinearity,
                                self.rule_name, self.rule_options, rule_tensors)
        h_n = out[-1].unsqueeze(0)
        if unbatched:
            return out.squeeze(1), h_n.squeeze(1)
        if self.batch_first:
            out = out.transpose(0, 1)
        return out, h_n

    @torch.jit.ignore
    def _noisy_leaky_rnn(self, x: Tensor, h: Tensor, rule_tensors: List[Tensor]) -> Tensor:
        """leaky_rnn with the stochastic rules' nu for this call, drawn from the module's generator (its state is
        the buffer rng_state: saved with the weights, and kept by torch.jit.script). Read, draw and write are one
        atomic step (RNG_LOCK), so threads sharing the module draw disjoint noise; a call that fails leaves
        rng_state as it was. (Python, called from a scripted forward too: it calls no other method of self.)"""
        kind, width = self.noise_kind, self.noise_width
        nu, before, after = draw_from_buffer(self.rng_state, lambda g: draw_noise(
            kind, (x.shape[0], x.shape[1], width), g, dtype=x.dtype, device=x.device))
        try:
            return ops.leaky_rnn(x, h, self.weight_hh, self.weight_ih, self.bias, self.alpha, self.nonlinearity,
                                 self.rule_name, self.rule_options, [nu] + list(rule_tensors))
        except BaseException:
            undraw_buffer(self.rng_state, before, after)
            raise

    def _carries_rule_state(self) -> bool:
        return self.rng_state is not None or self.kernl_mixing is not None

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if self._carries_rule_state():  # which rule rng_state / kernl_* belong to (weights-only modules: no entry)
            destination[prefix + RULE_IDENTITY] = encode_identity(self.rule_name, self.rule_options)

    def check_state_dict(self, state_dict, prefix: str = "") -> None:
        """What load_state_dict checks before it changes anything: a generator state it would load is valid, and
        the rule-specific state it would load (rng_state, kernl_*) is of this module's rule. Weights alone move
        freely between rules."""
        who = f"{type(self).__name__}.load_state_dict"
        if self.rng_state is not None and prefix + "rng_state" in state_dict:
            check_generator_state(state_dict[prefix + "rng_state"], who)
        carried = [k for k in ("rng_state", "kernl_mixing", "kernl_rates")
                   if getattr(self, k) is not None and prefix + k in state_dict]
        if carried and prefix + RULE_IDENTITY in state_dict:
            saved = decode_identity(state_dict[prefix + RULE_IDENTITY], who)
            if saved["rule"] != self.rule_name:
                mine = describe_identity({"rule": self.rule_name, "options": self.rule_options})
                verb = "belongs" if len(carried) == 1 else "belong"
                raise RuntimeError(f"{who}: the state_dict's {', '.join(carried)} {verb} to rule "
                                   f"{describe_identity(saved)}, but this module runs rule {mine}; load it into a "
                                   f"LocalRNN of that rule (or drop those entries to load the weights only)")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.check_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        unexpected_keys[:] = [k for k in unexpected_keys if k != prefix + RULE_IDENTITY]

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, alpha={self.alpha}, nonlinearity='{self.nonlinearity}', "
                f"rule={self.rule!r}, batch_first={self.batch_first}")
