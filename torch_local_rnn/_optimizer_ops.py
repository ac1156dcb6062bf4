"""online_learn's optimiser arguments (docs/algorithms.md §2.7): their names, state sizes and the fake kernels'
checks of them, and the op online_optimizer_step's wrapper and fake (ops.py re-exports the public names)."""
from typing import List, Optional

import torch
from torch import Tensor

from ._checks import _check_choice, _check_tensor, _fail, _register_fake

# The optimisers online_learn applies after every step (docs/algorithms.md §2.7) -> the slots of optimizer_state
# per parameter block ("none" keeps the captured gradients there; "sgd" keeps nothing).
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2, "none": 1}
# optimizer_options of each: their names, in order
OPTIMIZER_OPTIONS = {"sgd": (), "momentum": ("momentum", "dampening", "nesterov"), "adam": ("beta1", "beta2", "eps"),
                     "adamw": ("beta1", "beta2", "eps"), "none": ()}


def optimizer_state_numel(optimizer: str, hidden_size: int, input_size: int, output_size: int) -> int:
    """Values of online_learn's flat optimizer_state: per slot, n (n + I + 1) for [W_hh | W_ih | b], then per
    slot O (n + 1) for [W_out | b_out]."""
    n, i, o = hidden_size, input_size, output_size
    return OPTIMIZER_SLOTS[optimizer] * (n * (n + i + 1) + o * (n + 1))


def _check_optimizer(op: str, optimizer: str, optimizer_options, optimizer_state, optimizer_steps, x, sizes) -> None:
    """The fake's check of the optimiser arguments: the name, the option count and the state's size (the
    kernel checks the values too)."""
    n, I, O = sizes
    _check_choice(optimizer, tuple(OPTIMIZER_SLOTS), op, "optimizer")
    names = OPTIMIZER_OPTIONS[optimizer]
    if len(optimizer_options) != len(names):
        _fail(op, f"optimizer '{optimizer}' expects optimizer_options = [{', '.join(names)}], but got "
                  f"{len(optimizer_options)} values")
    if optimizer_steps < 0:
        _fail(op, f"expected optimizer_steps >= 0, but got {optimizer_steps}")
    numel = optimizer_state_numel(optimizer, n, I, O)
    if numel and optimizer_state is None:
        _fail(op, f"optimizer '{optimizer}' expects optimizer_state of {numel} values, but got None")
    if numel:
        _check_tensor(op, optimizer_state, x, (numel,), "optimizer_state", "(optimizer_state_numel,)", True)


def online_optimizer_step(weight_hh: Tensor, weight_ih: Tensor, bias: Tensor, weight_out: Tensor, bias_out: Tensor,
                          grad: Tensor, grad_out: Tensor, optimizer: str, lr: float,
                          optimizer_options: Optional[List[float]] = None, optimizer_state: Optional[Tensor] = None,
                          optimizer_steps: int = 0, l2: float = 0.0) -> None:
    """One optimiser step (number optimizer_steps + 1) of the weights, in place, from the gradients grad (n,
    n + I + 1) of [W_hh | W_ih | b] and grad_out (O, n + 1) of [W_out | b_out]: the phase online_learn runs
    after every step, for callers that all-reduce the gradients in between (docs/algorithms.md §2.7)."""
    opt_options: List[float] = [] if optimizer_options is None else [float(v) for v in optimizer_options]
    torch.ops.torch_local_rnn.online_optimizer_step(weight_hh, weight_ih, bias, weight_out, bias_out, grad, grad_out,
                                                    optimizer, lr, opt_options, optimizer_state,
                                                    int(optimizer_steps), l2)


@_register_fake("online_optimizer_step")
def _online_optimizer_step_fake(weight_hh, weight_ih, bias, weight_out, bias_out, grad, grad_out, optimizer, lr,
                                optimizer_options, optimizer_state, optimizer_steps, l2=0.0):
    op = "online_optimizer_step"
    n, I, O = weight_hh.shape[0], weight_ih.shape[1], weight_out.shape[0]
    if optimizer == "none":
        _fail(op, "expected optimizer to be one of 'sgd', 'momentum', 'adam', 'adamw' (an optimiser that moves the "
                  "weights), but got 'none'")
    _check_optimizer(op, optimizer, optimizer_options, optimizer_state, optimizer_steps, weight_hh, (n, I, O))
    return None
