"""Pure-PyTorch reference implementations: per step, slow, obviously right.

Written independently of the compiled ops (nothing here calls ``torch.ops.torch_local_rnn``),
so the test suite can hold the ops against them. Notation of algorithms.md §1:

    ahat_t = [a_{t-1}; x_t; 1]                       (presynaptic vector, length m = n + I + 1)
    h_t    = W_hh a_{t-1} + W_ih x_t + b             (pre-activation)
    a_t    = (1 - alpha) a_{t-1} + alpha phi(h_t)    (state; the op's "output")

Shapes: x (T, B, I), h0 (B, n), W_hh (n, n), W_ih (n, I), b (n,), states (T, B, n).
Every function works for float32 and float64; use float64 when comparing against the ops.
"""
from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

NONLINEARITIES = ("tanh", "relu", "sigmoid")
LOSSES = ("cross_entropy", "mse")


def phi(h: Tensor, nonlinearity: str) -> Tensor:
    """phi(h): tanh, relu or the logistic sigmoid."""
    if nonlinearity == "tanh":
        return torch.tanh(h)
    if nonlinearity == "relu":
        return torch.relu(h)
    if nonlinearity == "sigmoid":
        return torch.sigmoid(h)
    raise ValueError(f"reference: unknown nonlinearity '{nonlinearity}'")


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
    raise ValueError(f"reference: unknown nonlinearity '{nonlinearity}'")


def _initial_state(x: Tensor, h0: Optional[Tensor], n: int) -> Tensor:
    if h0 is None:
        return torch.zeros(x.shape[1], n, dtype=x.dtype, device=x.device)
    return h0


def leaky_rnn_forward(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float = 1.0,
                      nonlinearity: str = "tanh", *, detach_recurrent: bool = False) -> Tensor:
    """States a_1..a_T, (T, B, n), one step at a time; differentiable by autograd:

        h_t = W_hh a_{t-1} + W_ih x_t + b,   a_t = (1 - alpha) a_{t-1} + alpha phi(h_t),   a_0 = h0 (zeros if None).

    detach_recurrent=True detaches a_{t-1} inside W_hh a_{t-1} only (the leak term (1 - alpha) a_{t-1}
    stays attached). Autograd through that forward gives, for W_hh, W_ih and b, RFLO's estimate with
    trace_alpha = alpha (engineering.md §3.4).
    """
    a = _initial_state(x, h0, W_hh.shape[0])
    states = []
    for t in range(x.shape[0]):
        presyn = a.detach() if detach_recurrent else a
        h = presyn @ W_hh.T + x[t] @ W_ih.T + b
        a = (1.0 - alpha) * a + alpha * phi(h, nonlinearity)
        states.append(a)
    return torch.stack(states)


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


def readout_loss(z: Tensor, y: Tensor, loss: str) -> Tuple[Tensor, Tensor]:
    """(L, e) per stream for readout z (B, O) and target y (B, O) (algorithms.md §1):

        cross_entropy: L = -sum_k y_k log(max(softmax(z)_k, 1e-4)),   e = softmax(z) - y
        mse:           L = 1/2 mean_k (z_k - y_k)^2,                  e = z - y  (the gradient of 1/2 sum)
    """
    if loss == "cross_entropy":
        p = torch.exp(z - z.amax(dim=-1, keepdim=True))
        p = p / p.sum(dim=-1, keepdim=True)
        return -(y * torch.log(torch.clamp(p, min=1e-4))).sum(-1), p - y
    if loss == "mse":
        e = z - y
        return 0.5 * (e * e).sum(-1) / z.shape[-1], e
    raise ValueError(f"reference: unknown loss '{loss}'")


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
                loss: str = "cross_entropy", lr: float = 1e-4) -> OnlineResult:
    """Online RFLO (algorithms.md §2.1, §3.6), functional: the inputs are not modified. For t = 1..T,
    with B streams sharing the weights, each with its own state a and trace B_b:

        1. forward with the current weights:  h_t = W_hh a_{t-1} + W_ih x_t + b,  a_t = (1-alpha) a_{t-1} + alpha phi(h_t)
        2. readout z_t = W_out a_t + b_out;  (L_t, e_t) = readout_loss(z_t, y_t)
        3. q_t = F^T e_t with F = W_out (not yet updated) or the fixed feedback (O, n)
        4. B_t = (1 - k) B_{t-1} + k phi'(h_t) ahat_t^T,  ahat_t = [a_{t-1}; x_t; 1]   (k = trace_alpha, default alpha)
        5. [W_hh | W_ih | b] -= lr/B sum_b diag(q_{t,b}) B_{t,b}
           W_out -= lr/B sum_b e_{t,b} a_{t,b}^T,   b_out -= lr/B sum_b e_{t,b}

    x (T, B, I), y (T, B, O), hidden (B, n), trace (B, n, n + I + 1).
    """
    k = alpha if trace_alpha is None else trace_alpha
    T, B, I = x.shape
    n = weight_hh.shape[0]
    with torch.no_grad():
        a = hidden.clone()
        tr = trace.clone()
        W_hh, W_ih, b = weight_hh.clone(), weight_ih.clone(), bias.clone()
        W_out, b_out = weight_out.clone(), bias_out.clone()
        ones = torch.ones(B, 1, dtype=x.dtype, device=x.device)
        step_losses = torch.empty(T, B, dtype=x.dtype, device=x.device)
        for t in range(T):
            h = a @ W_hh.T + x[t] @ W_ih.T + b
            a_new = (1.0 - alpha) * a + alpha * phi(h, nonlinearity)
            z = a_new @ W_out.T + b_out
            step_losses[t], e = readout_loss(z, y[t], loss)
            q = e @ (W_out if feedback is None else feedback)                  # (B, n)
            ahat = torch.cat([a, x[t], ones], dim=1)                          # (B, m)
            tr = (1.0 - k) * tr + k * phi_prime(h, nonlinearity)[:, :, None] * ahat[:, None, :]
            G = (q[:, :, None] * tr).sum(0) / B                               # (n, m)
            W_hh = W_hh - lr * G[:, :n]
            W_ih = W_ih - lr * G[:, n:n + I]
            b = b - lr * G[:, n + I]
            W_out = W_out - lr * (e.T @ a_new) / B
            b_out = b_out - lr * e.sum(0) / B
            a = a_new
    return OnlineResult(step_losses, a, tr, W_hh, W_ih, b, W_out, b_out)
