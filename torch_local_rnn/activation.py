"""The activation phi of the leaky RNN (docs/algorithms.md §1) and its derivative, in torch: used by
OnlineLearner (a random initial state a = phi(h)) and by the pure-PyTorch references."""
import torch
from torch import Tensor

NONLINEARITIES = ("tanh", "relu", "sigmoid")


def phi(h: Tensor, nonlinearity: str) -> Tensor:
    """phi(h): tanh, relu or the logistic sigmoid."""
    if nonlinearity == "tanh":
        return torch.tanh(h)
    if nonlinearity == "relu":
        return torch.relu(h)
    if nonlinearity == "sigmoid":
        return torch.sigmoid(h)
    raise ValueError(f"unknown nonlinearity '{nonlinearity}' (expected one of {NONLINEARITIES})")


def phi_prime(h: Tensor, nonlinearity: str) -> Tensor:
    """phi'(h), from the pre-activation h: 1 - tanh(h)^2; 1[h > 0] (0 at h = 0, like torch.relu's
    autograd); s(h) (1 - s(h)) with s the sigmoid."""
    if nonlinearity == "tanh":
        return 1.0 - torch.tanh(h) ** 2
    if nonlinearity == "relu":
        return (h > 0).to(h.dtype)
    if nonlinearity == "sigmoid":
        s = torch.sigmoid(h)
        return s * (1.0 - s)
    raise ValueError(f"unknown nonlinearity '{nonlinearity}' (expected one of {NONLINEARITIES})")
