"""LocalRNN: a drop-in for torch.nn.RNN whose recurrent weights learn by a chosen rule."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from . import init, ops, rules
from .rules import draw_noise


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
        if int(input_size) <= 0 or int(hidden_size) <= 0:
            raise ValueError(f"LocalRNN: expected input_size and hidden_size > 0, but got {input_size}, {hidden_size}")
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
        self.stochastic: bool = self.rule.stochastic and self.rule.name != "kernl"  # KeRNL's noise trains A only
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
        if self.stochastic:
            rule_tensors.append(self._draw_noise(x.shape[0], batch, x))
        mixing, rates = self.kernl_mixing, self.kernl_rates
        if mixing is not None and rates is not None:
            rule_tensors += [mixing.to(x.dtype), rates.to(x.dtype)]
        out = ops.leaky_rnn(x, h, self.weight_hh, self.weight_ih, self.bias, self.alpha, self.nonlinearity,
                            self.rule_name, self.rule_options, rule_tensors)
        h_n = out[-1].unsqueeze(0)
        if unbatched:
            return out.squeeze(1), h_n.squeeze(1)
        if self.batch_first:
            out = out.transpose(0, 1)
        return out, h_n

    @torch.jit.ignore
    def _draw_noise(self, steps: int, batch: int, like: Tensor) -> Tensor:
        """The stochastic rules' nu for one forward call, from the module's generator (its state is the
        buffer rng_state: saved with the weights, and kept by torch.jit.script)."""
        g = torch.Generator()
        g.set_state(self.rng_state.cpu())
        nu = draw_noise(self.noise_kind, (steps, batch, self.noise_width), g, dtype=like.dtype, device=like.device)
        self.rng_state.copy_(g.get_state())
        return nu

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, alpha={self.alpha}, nonlinearity='{self.nonlinearity}', "
                f"rule={self.rule!r}, batch_first={self.batch_first}")
