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
