"""References of Only_Output_Weights and RTRL (docs/algorithms.md §3.1, §3.2): sequence forms (frozen weights,
g_t = dL/da_t given) and online forms (per-step SGD), with explicit influence matrices."""
from typing import Optional

import torch
from torch import Tensor

from .core import (LocalOnlineResult, _initial_state, _left_multiply, _online_loop, _split, _with_input_grads,
                   jacobians, phi, phi_prime, presynaptic)


def output_only_sequence_grads(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float,
                               nonlinearity: str, grad_output: Tensor):
    """Only_Output_Weights (§3.1): zero recurrent gradients; (grad_x, grad_h0) the one-step ones."""
    zeros = (torch.zeros_like(W_hh), torch.zeros_like(W_ih), torch.zeros_like(b))
    return _with_input_grads(x, h0, W_hh, W_ih, b, alpha, nonlinearity, grad_output, zeros)


def rtrl_sequence_grads(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float,
                        nonlinearity: str, grad_output: Tensor):
    """RTRL (§3.2) over a sequence with frozen weights, with explicit influence matrices per stream:

        M_0 = 0,   M_t = J_t M_{t-1} + Mbar_t   (B, n, n*m),   Mbar_t[k, i*m + j] = delta_ki alpha phi'(h_t,i) ahat_t,j
        G = sum_t sum_b g_{t,b}^T M_{t,b}   reshaped (n, m)

    (with frozen weights exactly the BPTT gradient). Returns (grad_x, grad_h0, grad_W_hh, grad_W_ih, grad_b)
    with the one-step input gradients.
    """
    T, B, I = x.shape
    n = W_hh.shape[0]
    m = n + I + 1
    with torch.no_grad():
        a = _initial_state(x, h0, n)
        eye = torch.eye(n, dtype=x.dtype, device=x.device)
        M = torch.zeros(B, n, n * m, dtype=x.dtype, device=x.device)
        G = torch.zeros(n * m, dtype=x.dtype, device=x.device)
        for t in range(T):
            h = a @ W_hh.T + x[t] @ W_ih.T + b
            d = phi_prime(h, nonlinearity)
            ahat = presynaptic(a, x[t])
            Mbar = (eye[None, :, :, None] * (alpha * d)[:, None, :, None] * ahat[:, None, None, :]).reshape(B, n, n * m)
            M = _left_multiply(jacobians(W_hh, d, alpha), M) + Mbar
            G = G + torch.einsum("bk,bkp->p", grad_output[t], M)
            a = (1.0 - alpha) * a + alpha * phi(h, nonlinearity)
    return _with_input_grads(x, h0, W_hh, W_ih, b, alpha, nonlinearity, grad_output, _split(G.reshape(n, m), n, I))


def output_only_online(x: Tensor, y: Tensor, hidden: Tensor, weight_hh: Tensor, weight_ih: Tensor, bias: Tensor,
                       weight_out: Tensor, bias_out: Tensor, feedback: Optional[Tensor] = None, alpha: float = 1.0,
                       nonlinearity: str = "tanh", loss: str = "cross_entropy", lr: float = 1e-4,
                  l2: float = 0.0, *, optimizer_step=None
                       ) -> LocalOnlineResult:
    """Online Only_Output_Weights (§3.1): G = 0, only the readout learns. Functional. optimizer_step: another
    optimiser in place of SGD (core._online_loop; it gets G = None every step)."""
    return _online_loop(lambda *_: None, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback,
                        alpha, nonlinearity, loss, lr, {}, l2=l2, optimizer_step=optimizer_step)


def rtrl_online(x: Tensor, y: Tensor, hidden: Tensor, influence: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                bias: Tensor, weight_out: Tensor, bias_out: Tensor, feedback: Optional[Tensor] = None,
                alpha: float = 1.0, nonlinearity: str = "tanh", loss: str = "cross_entropy", lr: float = 1e-4,
                  l2: float = 0.0, *, optimizer_step=None
                ) -> LocalOnlineResult:
    """Online RTRL (§2.1, §3.2), functional. Per stream b the influence M_b (n, n*m), column p = i*m + j:

        M_b <- J_t M_b + Mbar_t   (J_t with the current weights, before this step's update)
        G = 1/B sum_b sum_k q_{t,bk} M_b[k, :]   reshaped (n, m)

    influence (B, n, n*m) is the starting M; state = {"influence": the final M}. optimizer_step: another
    optimiser in place of SGD (core._online_loop).
    """
    B, n = hidden.shape
    m = n + x.shape[2] + 1
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    box = {"M": influence.clone()}

    def step(t, ahat, d, q, W_hh, *_):
        Mbar = (eye[None, :, :, None] * (alpha * d)[:, None, :, None] * ahat[:, None, None, :]).reshape(B, n, n * m)
        box["M"] = _left_multiply(jacobians(W_hh, d, alpha), box["M"]) + Mbar
        return torch.einsum("bk,bkp->p", q, box["M"]).reshape(n, m) / B

    r = _online_loop(step, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                     nonlinearity, loss, lr, {}, l2=l2, optimizer_step=optimizer_step)
    return r._replace(state={"influence": box["M"]})
