"""LocalRNN: torch.nn.RNN's interface (layers, directions, PackedSequence, parameter names) on a leaky RNN whose
every layer learns by a chosen rule (docs/algorithms.md §1, §1.2)."""
import numbers
import warnings
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from . import init as weight_init  # (the constructor's keyword init would shadow the module)
from . import ops, rules
from .rnn_layout import (check_hidden, check_input, last_valid_step, packed_to_padded, padded_to_packed,
                         permute_batch, reverse_in_time, time_major)
from .rule_state import (RULE_IDENTITY, check_generator_state, decode_identity, describe_identity, encode_identity,
                         seed_from_generator_state)

# nn.RNN's mode names; sigmoid is ours (nn.RNN has none), named the same way
MODES = {"tanh": "RNN_TANH", "relu": "RNN_RELU", "sigmoid": "RNN_SIGMOID"}


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # as torch.nn.RNN: no silent int(2.5)
        hint = " (alpha is keyword-only: LocalRNN(..., alpha=...))" if name == "num_layers" else ""
        raise TypeError(f"LocalRNN: {name} should be of type int, got: {type(value).__name__}{hint}")
    return int(value)


class LocalRNN(nn.Module):
    """torch.nn.RNN's interface on a leaky RNN (docs/algorithms.md §1): in every layer and direction

        h_t = W_hh a_{t-1} + W_ih x_t + b_ih + b_hh,   a_t = (1 - alpha) a_{t-1} + alpha phi(h_t)

    (alpha = 1: nn.RNN's network). Arguments, parameter names (weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k},
    bias_hh_l{k}, ..._reverse), shapes (h0 / h_n: (num_layers * num_directions, B, hidden_size); unbatched
    (num_layers * num_directions, hidden_size)), PackedSequence input and output, dropout between layers and the
    errors for wrong shapes are nn.RNN's; an nn.RNN state_dict loads and (alpha=1, rule="bptt") gives the same
    outputs and gradients. mode: 'RNN_TANH', 'RNN_RELU', or 'RNN_SIGMOID' (ours: nn.RNN has no sigmoid).

    On backward every layer's weights receive the rule's estimate: the exact gradient for ``rule="bptt"``,
    RFLO's for ``rule="rflo"``, and so on for every rule with a sequence form (rules.RULES); ``rule`` is the only
    change between the pipelines. Each layer and direction is one call of ops.leaky_rnn with its own weights (the
    reverse direction on each sequence flipped within its length), so the layer below receives that op's input
    gradient: for "bptt" the exact dL/dx_t, for a local rule the one-step credit W_ih^T (alpha phi'(h_t) * g_t)
    of docs/algorithms.md §1 (no credit through time; §1.2). The stochastic rules (uoro, kf_rtrl, rkf_rtrl) draw
    fresh noise for every layer and direction inside the op, from a counter-based generator (Philox4x32-10,
    docs/algorithms.md §2.5): int64 scalar buffers ``noise_seed`` (drawn from ``generator`` at construction) and
    ``noise_offset`` (the draws used so far); each layer and direction reserves its T * B * width draws by
    advancing noise_offset in the op, atomically, so threads sharing the module draw disjoint noise and the
    forward is scriptable, compilable (fullgraph) and exportable. (A state_dict of the former ``rng_state``
    loads: its generator state seeds noise_seed, noise_offset 0.) KeRNL reads its mixing matrix and rates from
    the buffers ``kernl_mixing`` and ``kernl_rates``, one pair shared by all layers and directions (all have
    hidden_size units). The state_dict of a module with such rule state records its rule (``rule_identity``),
    and load_state_dict refuses another rule's noise_* / kernl_* (the weights alone load into any rule).

    Initialisation (``init``, also reset_parameters(init=...)): "papers" (default; docs/algorithms.md §1.1:
    orthogonal weight_hh, N(0, 1/fan_in) weight_ih, zero biases, drawn from ``generator``) or "torch" (nn.RNN's
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))). Set other weights through the parameters
    (``with torch.no_grad(): rnn.weight_hh_l0.copy_(W)``) or load_state_dict (an nn.RNN's loads as is).
    """

    __constants__ = ["input_size", "hidden_size", "num_layers", "alpha", "nonlinearity", "rule_name", "batch_first",
                     "stochastic", "bias", "bidirectional", "dropout"]
    __jit_unused_properties__ = ["all_weights"]
    # Declared here so TorchScript knows the types even when the lists are empty (rule="bptt").
    rule_options: List[float]
    _flat_weights: List[Tensor]

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, alpha: float = 1.0, rule: rules.Rule = "bptt",
                 generator: Optional[torch.Generator] = None, init: str = "papers"):
        super().__init__()
        input_size, hidden_size = _check_size("input_size", input_size), _check_size("hidden_size", hidden_size)
        num_layers = _check_size("num_layers", num_layers)
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"LocalRNN: expected input_size and hidden_size > 0, but got {input_size}, {hidden_size}")
        if num_layers <= 0:
            raise ValueError(f"LocalRNN: expected num_layers >= 1, but got {num_layers}")
        for name, value in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(value, bool):
                raise TypeError(f"LocalRNN: {name} should be of type bool, got: {type(value).__name__}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError(f"LocalRNN: dropout should be a number in range [0, 1] representing the probability of "
                             f"an element being zeroed, but got {dropout!r}")
        if dropout > 0 and num_layers == 1:  # nn.RNN's warning
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}")
        if isinstance(alpha, (bool, str)) or not isinstance(alpha, (numbers.Real, Tensor)):
            raise TypeError(f"LocalRNN: expected alpha to be a number in (0, 1], but got {type(alpha).__name__} "
                            f"{alpha!r}")
        if not 0.0 < float(alpha) <= 1.0:
            raise ValueError(f"LocalRNN: expected alpha in (0, 1], but got {alpha}")
        if nonlinearity not in MODES:
            raise ValueError(f"LocalRNN: expected nonlinearity to be one of 'tanh', 'relu', 'sigmoid', "
                             f"but got '{nonlinearity}'")
        if init not in weight_init.INIT_SCHEMES:
            raise ValueError(f"LocalRNN: expected init to be one of {list(weight_init.INIT_SCHEMES)}, but got {init!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout, self.init_scheme = float(dropout), init
        self.alpha, self.nonlinearity, self.mode = float(alpha), nonlinearity, MODES[nonlinearity]
        self.rule = rules.resolve(rule)
        if not self.rule.has_sequence_form:
            raise ValueError(f"LocalRNN: rule '{self.rule.name}' has no sequence form; train it with OnlineLearner")
        self.rule.check(self.alpha, "sequence", "LocalRNN")
        self.rule_name: str = self.rule.name
        self.rule_options: List[float] = self.rule.sequence_options(self.alpha)
        dtype = dtype or torch.get_default_dtype()
        like = dict(device=device, dtype=dtype)
        # nn.RNN's parameters, in its order (its state_dict loads as is)
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            fan_in = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (hidden_size, fan_in), "weight_hh": (hidden_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(hidden_size,), bias_hh=(hidden_size,))
                names = [name + suffix for name in shapes]
                for name, shape in zip(names, shapes.values()):
                    setattr(self, name, nn.Parameter(torch.empty(shape, **like)))
                self._flat_weights_names += names
                self._all_weights.append(names)
        self._init_flat_weights()
        self.reset_parameters(generator=generator)
        self.stochastic: bool = self.rule.sequence_noise  # KeRNL's noise trains A online only
        # The noise of uoro / kf_rtrl / rkf_rtrl: Philox draws under noise_seed (drawn from ``generator`` or the
        # global one) at the counter noise_offset (docs/algorithms.md §2.5); buffers, so state_dict() saves them
        # with the weights. Plain attributes (not the config object), so a scripted module keeps them.
        self.noise_kind: str = getattr(self.rule, "noise_kind", "") if self.stochastic else ""
        self.noise_width: int = self.rule.noise_width(self.hidden_size) if self.stochastic else 0
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator)) if self.stochastic else 0
        counter = dict(dtype=torch.int64, device=device)
        buffers = {"noise_seed": torch.tensor(seed, **counter) if self.stochastic else None,
                   "noise_offset": torch.tensor(0, **counter) if self.stochastic else None}
        # KeRNL's A and rates (the exact 2019 kernel draws its rates from ``generator``); one pair for all layers
        fixed = self.rule.sequence_tensors(hidden_size, generator=generator, **like)
        buffers.update(kernl_mixing=fixed.get("kernl_mixing"), kernl_rates=fixed.get("kernl_rates"))
        # the present ones first: torch.export (2.13, non-strict) indexes the graph's inputs by a buffer's
        # position among all buffers, None ones included, and fails on a None before a tensor
        for name in sorted(buffers, key=lambda k: buffers[k] is None):
            self.register_buffer(name, buffers[name])

    # ------------------------------------------------------------------ nn.RNN's parameter bookkeeping
    def _init_flat_weights(self) -> None:
        # the list a scripted forward reads (TorchScript cannot getattr by a computed name); eager reads by name
        self._flat_weights = [getattr(self, name) for name in self._flat_weights_names]

    def __setattr__(self, attr, value):
        if attr != "_flat_weights_names" and attr in getattr(self, "_flat_weights_names", ()):
            self._flat_weights[self._flat_weights_names.index(attr)] = value  # rnn.weight_hh_l0 = Parameter(...)
        super().__setattr__(attr, value)

    def _apply(self, fn, recurse=True):
        ret = super()._apply(fn, recurse)
        self._init_flat_weights()  # .to() / .double() made new parameters
        return ret

    @property
    def all_weights(self) -> List[List[nn.Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """nn.RNN's cuDNN weight compaction; a no-op here (the op reads each layer's weights as they are)."""

    def reset_parameters(self, init: Optional[str] = None, generator: Optional[torch.Generator] = None) -> None:
        """Re-draws every parameter: ``init`` "papers" or "torch" (None: the constructor's choice); see the class
        docstring and init.reset_layer_stack."""
        groups = [[getattr(self, name) for name in names] + [None] * (4 - len(names)) for names in self._all_weights]
        weight_init.reset_layer_stack(groups, self.init_scheme if init is None else init, generator)

    # ------------------------------------------------------------------ forward
    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        who = "LocalRNN"
        if not torch.jit.is_scripting():
            if isinstance(input, PackedSequence):
                return self._forward_packed(input, hx)
        x, h, unbatched = time_major(who, input, hx, self.batch_first)
        check_input(who, x, False, self.input_size, self.weight_ih_l0.dtype)
        directions = 2 if self.bidirectional else 1
        if h is None:
            h = torch.zeros(self.num_layers * directions, x.shape[1], self.hidden_size, dtype=x.dtype,
                            device=x.device)
        check_hidden(who, h, [self.num_layers * directions, x.shape[1], self.hidden_size], x)
        out, h_n = self._layer_stack(x, h, None)
        if unbatched:
            return out.squeeze(1), h_n.squeeze(1)
        if self.batch_first:
            out = out.transpose(0, 1)
        return out, h_n

    @torch.jit.unused
    def _forward_packed(self, input: PackedSequence, hx: Optional[Tensor]) -> Tuple[PackedSequence, Tensor]:
        """nn.RNN's PackedSequence semantics: computed in the packed (sorted) order, hx given and h_n returned in
        the caller's order; each sequence stops at its own length (h_n: its last valid step)."""
        who = "LocalRNN"
        check_input(who, input.data, True, self.input_size, self.weight_ih_l0.dtype)
        x, lengths = packed_to_padded(input)
        rows = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            hx = torch.zeros(rows, x.shape[1], self.hidden_size, dtype=x.dtype, device=x.device)
        else:
            hx = permute_batch(hx, input.sorted_indices)
        check_hidden(who, hx, [rows, int(input.batch_sizes[0]), self.hidden_size], x)
        out, h_n = self._layer_stack(x, hx, lengths)
        return padded_to_packed(out, lengths, input), permute_batch(h_n, input.unsorted_indices)

    def _layer_stack(self, x: Tensor, hx: Tensor, lengths: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Outputs (T, B, directions * H) of the last layer and h_n (layers * directions, B, H), from x (T, B, I).
        Each layer and direction is one op call with its own weights: every layer learns by the rule, and hands
        the layer below the op's input gradient (docs/algorithms.md §1.2)."""
        weights = self._flat_weights
        if not torch.jit.is_scripting():
            weights = [getattr(self, name) for name in self._flat_weights_names]
        directions = 2 if self.bidirectional else 1
        stride = 4 if self.bias else 2
        rule_tensors: List[Tensor] = []
        mixing, rates = self.kernl_mixing, self.kernl_rates
        if mixing is not None and rates is not None:
            rule_tensors += [mixing.to(x.dtype), rates.to(x.dtype)]
        finals: List[Tensor] = []
        layer_input = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0.0 and self.training:  # between layers, not after the last: nn.RNN's
                layer_input = F.dropout(layer_input, self.dropout, True)
            outs: List[Tensor] = []
            for direction in range(directions):
                k = layer * directions + direction
                w_ih, w_hh = weights[k * stride], weights[k * stride + 1]
                # the op takes one bias: b_ih + b_hh (autograd gives both its gradient, as nn.RNN's two biases get)
                b = weights[k * stride + 2] + weights[k * stride + 3] if self.bias else \
                    torch.zeros(self.hidden_size, dtype=w_hh.dtype, device=w_hh.device)
                seq = layer_input if direction == 0 else reverse_in_time(layer_input, lengths)
                tensors = [self._reserve_noise(seq)] + rule_tensors if self.stochastic else rule_tensors
                out = ops.leaky_rnn(seq, hx[k], w_hh, w_ih, b, self.alpha, self.nonlinearity, self.rule_name,
                                    self.rule_options, tensors)
                if direction == 1:
                    out = reverse_in_time(out, lengths)
                    finals.append(out[0])  # the reverse direction ends at step 0
                else:
                    finals.append(last_valid_step(out, lengths))
                outs.append(out)
            layer_input = outs[0] if directions == 1 else torch.cat(outs, 2)
        return layer_input, torch.stack(finals, 0)

    def _reserve_noise(self, x: Tensor) -> Tensor:
        """The noise counter [seed, offset, kind] of one op call on x (T, B, .): its T * B * noise_width draws,
        reserved by advancing noise_offset in the op (atomically; docs/algorithms.md §2.5). The rule draws nu
        from it inside the op; a call that fails after this skips its draws (nothing to undo: no state but the
        counter)."""
        seed, offset = self.noise_seed, self.noise_offset
        assert seed is not None and offset is not None
        return ops.noise_reserve(seed, offset, x.shape[0] * x.shape[1] * self.noise_width, self.noise_kind)

    # ------------------------------------------------------------------ state_dict: the rule's state
    def _carries_rule_state(self) -> bool:
        return self.noise_seed is not None or self.kernl_mixing is not None

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if self._carries_rule_state():  # which rule noise_* / kernl_* belong to (weights-only modules: no entry)
            destination[prefix + RULE_IDENTITY] = encode_identity(self.rule_name, self.rule_options)

    def check_state_dict(self, state_dict, prefix: str = "") -> None:
        """What load_state_dict checks before it changes anything: a former generator state (rng_state) it would
        load is valid, and the rule-specific state it would load (noise_*, rng_state, kernl_*) is of this module's
        rule. Weights alone move freely between rules."""
        who = f"{type(self).__name__}.load_state_dict"
        if self.stochastic and prefix + "rng_state" in state_dict:
            check_generator_state(state_dict[prefix + "rng_state"], who)
        owned = {"noise_seed": self.stochastic, "noise_offset": self.stochastic, "rng_state": self.stochastic,
                 "kernl_mixing": self.kernl_mixing is not None, "kernl_rates": self.kernl_rates is not None}
        carried = [k for k, mine in owned.items() if mine and prefix + k in state_dict]
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
        legacy = prefix + "rng_state"
        if self.stochastic and legacy in state_dict and prefix + "noise_seed" not in state_dict:
            # a checkpoint of the Python-drawn noise: its generator state seeds the counter-based one
            state_dict[prefix + "noise_seed"] = torch.tensor(seed_from_generator_state(state_dict[legacy]))
            state_dict[prefix + "noise_offset"] = torch.tensor(0, dtype=torch.int64)
        if self.stochastic:
            state_dict.pop(legacy, None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        unexpected_keys[:] = [k for k in unexpected_keys if k != prefix + RULE_IDENTITY]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        s += f", nonlinearity='{self.nonlinearity}'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s + f", alpha={self.alpha}, rule={self.rule!r}"

