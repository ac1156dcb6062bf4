"""online_learn's optimiser arguments (docs/algorithms.md §2.7): their names, state sizes and the fake kernels'
checks of them (ops.py re-exports the public names)."""
from ._checks import _check_choice, _check_tensor, _fail

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
