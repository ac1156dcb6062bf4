"""Weight initialisation of docs/algorithms.md §1.1, drawn from a torch.Generator."""
from typing import Optional

import torch


def orthogonal(n: int, generator: Optional[torch.Generator] = None, dtype=torch.float32) -> torch.Tensor:
    """Q of the QR decomposition of an n x n standard-normal matrix (all |eigenvalues| = 1)."""
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    return q.to(dtype).contiguous()


def normal(rows: int, cols: int, fan: int, generator: Optional[torch.Generator] = None,
           dtype=torch.float32) -> torch.Tensor:
    """N(0, 1/fan) entries."""
    return (torch.randn(rows, cols, generator=generator, dtype=torch.float64) / fan ** 0.5).to(dtype)


INIT_SCHEMES = ("papers", "torch")


def reset_layer_stack(weights, scheme: str, generator: Optional[torch.Generator] = None) -> None:
    """Initialises LocalRNN's parameters in place. ``weights``: one (weight_ih, weight_hh, bias_ih, bias_hh)
    tuple per layer and direction, in nn.RNN's order (biases None without bias).

    "papers" (docs/algorithms.md §1.1): orthogonal weight_hh, N(0, 1/fan_in) weight_ih (fan_in: the layer's input
    size), zero biases; per layer and direction weight_hh is drawn before weight_ih (one layer: the draws of the
    original single-layer module, so seeded results hold). "torch": nn.RNN's reset_parameters, U(-1/sqrt(H),
    1/sqrt(H)) for every parameter in nn.RNN's order (from the global generator when ``generator`` is None: the
    same draws as an nn.RNN built after the same torch.manual_seed)."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"LocalRNN: expected init to be one of {list(INIT_SCHEMES)}, but got {scheme!r}")
    with torch.no_grad():
        for w_ih, w_hh, b_ih, b_hh in weights:
            if scheme == "torch":
                bound = 1.0 / w_hh.shape[0] ** 0.5
                for w in (w_ih, w_hh, b_ih, b_hh):
                    if w is not None:
                        torch.nn.init.uniform_(w, -bound, bound, generator=generator)
                continue
            n, fan_in = w_hh.shape[0], w_ih.shape[1]
            w_hh.copy_(orthogonal(n, generator, w_hh.dtype))
            w_ih.copy_(normal(n, fan_in, fan_in, generator, w_ih.dtype))
            for b in (b_ih, b_hh):
                if b is not None:
                    b.zero_()
