"""Reference of RFLO (docs/algorithms.md §3.6): the sequence form with the (B, n, m) trace materialised, and the
online form with per-step SGD (§2.1)."""
from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .core import _initial_state, _online_loop, phi, phi_prime


def rflo_sequence_grads(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float,
                        nonlinearity: str, grad_output: Tensor, trace_alpha: Optional[float] = None
                        ) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """RFLO's estimate over a sequence with frozen weights, materialising the (B, n, m) trace:

        B_0 = 0,   B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T          (k = trace_alpha, default alpha)
        G   = sum_t sum_b diag(g_{t,b}) B_{t,b},   g_t = grad_output[t] = dL/da_t
        [dW_hh | dW_ih | db] = G   (columns split n | I | 1)
        dx_t  = W_ih^T (alpha phi'(h_t) * g_t)                              (one-step gradient)
        dh0   = (1 - alpha) g_1 + W_hh^T (alpha phi'(h_1) * g_1)             (one-step gradient)

    Returns (grad_x, grad_h0, grad_W_hh, grad_W_ih, grad_b); grad_h0 has shape (B, n) even if h0 is None.
    """
    k = alpha if trace_alpha is None else trace_alpha
    T, B, I = x.shape
    n = W_hh.shape[0]
    m = n + I + 1
    with torch.no_grad():
        a = _initial_state(x, h0, n)
        trace = torch.zeros(B, n, m, dtype=x.dtype, device=x.device)
        G = torch.zeros(n, m, dtype=x.dtype, device=x.device)
        grad_x = torch.zeros_like(x)
        grad_h0 = None
        ones = torch.ones(B, 1, dtype=x.dtype, device=x.device)
        for t in range(T):
            h = a @ W_hh.T + x[t] @ W_ih.T + b
            d = phi_prime(h, nonlinearity)                       # (B, n)
            ahat = torch.cat([a, x[t], ones], dim=1)             # (B, m)
            trace = (1.0 - k) * trace + k * d[:, :, None] * ahat[:, None, :]
            g = grad_output[t]                                   # (B, n)
            G = G + (g[:, :, None] * trace).sum(0)
            credit = alpha * d * g
            grad_x[t] = credit @ W_ih
            if t == 0:
                grad_h0 = (1.0 - alpha) * g + credit @ W_hh
            a = (1.0 - alpha) * a + alpha * phi(h, nonlinearity)
    return grad_x, grad_h0, G[:, :n].clone(), G[:, n:n + I].clone(), G[:, n + I].clone()


class OnlineResult(NamedTuple):
    """What reference.rflo_online returns: the per-step losses (T, B) and the updated state/weights."""
    losses: Tensor
    hidden: Tensor
    trace: Tensor
    weight_hh: Tensor
    weight_ih: Tensor
    bias: Tensor
    weight_out: Tensor
    bias_out: Tensor


def rflo_online(x: Tensor, y: Tensor, hidden: Tensor, trace: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                bias: Tensor, weight_out: Tensor, bias_out: Tensor, feedback: Optional[Tensor] = None,
                alpha: float = 1.0, trace_alpha: Optional[float] = None, nonlinearity: str = "tanh",
                loss: str = "cross_entropy", lr: float = 1e-4, l2: float = 0.0, *, optimizer_step=None
                ) -> OnlineResult:
    """Online RFLO (docs/algorithms.md §2.1, §3.6), functional: the inputs are not modified. For t = 1..T,
    with B streams sharing the weights, each with its own state a and trace B_b:

        1. forward with the current weights:  h_t = W_hh a_{t-1} + W_ih x_t + b,  a_t = (1-alpha) a_{t-1} + alpha phi(h_t)
        2. readout z_t = W_out a_t + b_out;  (L_t, e_t) = readout_loss(z_t, y_t)
        3. q_t = F^T e_t with F = W_out (not yet updated) or the fixed feedback (O, n)
        4. B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T,  ahat_t = [a_{t-1}; x_t; 1]   (k = trace_alpha, default alpha)
        5. [W_hh | W_ih | b] -= lr/B sum_b diag(q_{t,b}) B_{t,b}
           W_out -= lr/B sum_b e_{t,b} a_{t,b}^T,   b_out -= lr/B sum_b e_{t,b}

    x (T, B, I), y (T, B, O), hidden (B, n), trace (B, n, n + I + 1). optimizer_step: another optimiser in
    place of the SGD of step 5 (core._online_loop).
    """
    k = alpha if trace_alpha is None else trace_alpha
    B = hidden.shape[0]
    box = {"trace": trace.clone()}

    def step(t, ahat, d, q, W_hh, *_):  # steps 4 and 5's recurrent part; the rest is the shared loop's
        box["trace"] = (1.0 - k) * box["trace"] + k * d[:, :, None] * ahat[:, None, :]
        return (q[:, :, None] * box["trace"]).sum(0) / B                   # (n, m)

    r = _online_loop(step, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                     nonlinearity, loss, lr, {}, l2=l2, optimizer_step=optimizer_step)
    return OnlineResult(r.losses, r.hidden, box["trace"], r.weight_hh, r.weight_ih, r.bias, r.weight_out, r.bias_out)
