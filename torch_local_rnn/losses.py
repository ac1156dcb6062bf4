"""Per-step readout losses of docs/algorithms.md §1, in torch, for evaluation and references."""
import torch
from torch import Tensor

# mse and mse_mean report the same loss; online, mse's output error is e = z - y (the gradient of 1/2 sum,
# the papers' quirk, n_out times the reported loss's gradient) and mse_mean's e = (z - y) / n_out.
LOSSES = ("cross_entropy", "mse", "mse_mean")


def check_loss(loss: str, who: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"{who}: expected loss to be one of {LOSSES}, but got '{loss}'")
    return loss


def per_step_loss(z: Tensor, y: Tensor, loss: str) -> Tensor:
    """Loss of every step, reduced over the last (output) dimension only.

    cross_entropy: -sum_k y_k log(max(softmax(z)_k, 1e-4)) (the 1e-4 floor of the papers' code);
    mse, mse_mean: 1/2 mean_k (z_k - y_k)^2."""
    if loss == "cross_entropy":
        return -(y * torch.softmax(z, dim=-1).clamp_min(1e-4).log()).sum(-1)
    return 0.5 * (z - y).pow(2).mean(-1)
