"""Pure-PyTorch reference implementations: per step, slow, obviously right.

Written independently of the compiled ops (nothing here calls ``torch.ops.torch_local_rnn``),
so the test suite can hold the ops against them. Notation of docs/algorithms.md §1:

    ahat_t = [a_{t-1}; x_t; 1]                       (presynaptic vector, length m = n + I + 1)
    h_t    = W_hh a_{t-1} + W_ih x_t + b             (pre-activation)
    a_t    = (1 - alpha) a_{t-1} + alpha phi(h_t)    (state; the op's "output")

Shapes: x (T, B, I), h0 (B, n), W_hh (n, n), W_ih (n, I), b (n,), states (T, B, n).
Every function works for float32 and float64; use float64 when comparing against the ops.

This module: the shared pieces (forward pass, exact gradient, readout loss, dense Jacobians
    J_t = da_t/da_{t-1} = (1 - alpha) I + alpha diag(phi'(h_t)) W_hh            (B, n, n)
and the shared online step of §2.1, ``_online_loop``). G (n, m), m = n + I + 1, is the update direction
of W = [W_hh | W_ih | b], split column-wise.
"""
from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from ..activation import NONLINEARITIES, phi, phi_prime  # noqa: F401  (re-exported)

LOSSES = ("cross_entropy", "mse", "mse_mean")


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
    trace_alpha = alpha (docs/design.md §3.4).
    """
    a = _initial_state(x, h0, W_hh.shape[0])
    states = []
    for t in range(x.shape[0]):
        presyn = a.detach() if detach_recurrent else a
        h = presyn @ W_hh.T + x[t] @ W_ih.T + b
        a = (1.0 - alpha) * a + alpha * phi(h, nonlinearity)
        states.append(a)
    return torch.stack(states)


def readout_loss(z: Tensor, y: Tensor, loss: str) -> Tuple[Tensor, Tensor]:
    """(L, e) per stream for readout z (B, O) and target y (B, O) (docs/algorithms.md §1):

        cross_entropy: L = -sum_k y_k log(max(softmax(z)_k, 1e-4)),   e = softmax(z) - y
        mse:           L = 1/2 mean_k (z_k - y_k)^2,                  e = z - y  (the gradient of 1/2 sum)
        mse_mean:      the same L,                                    e = (z - y) / O (its own gradient)
    """
    if loss == "cross_entropy":
        p = torch.exp(z - z.amax(dim=-1, keepdim=True))
        p = p / p.sum(dim=-1, keepdim=True)
        return -(y * torch.log(torch.clamp(p, min=1e-4))).sum(-1), p - y
    if loss in ("mse", "mse_mean"):
        e = z - y
        L = 0.5 * (e * e).sum(-1) / z.shape[-1]
        return L, (e / z.shape[-1] if loss == "mse_mean" else e)
    raise ValueError(f"reference: unknown loss '{loss}'")


def presynaptic(a_prev: Tensor, x_t: Tensor) -> Tensor:
    """ahat_t = [a_{t-1}; x_t; 1], (B, m)."""
    return torch.cat([a_prev, x_t, torch.ones(x_t.shape[0], 1, dtype=x_t.dtype, device=x_t.device)], dim=1)


def jacobians(W_hh: Tensor, dphi: Tensor, alpha: float) -> Tensor:
    """J_t = (1 - alpha) I + alpha diag(phi'(h_t)) W_hh per stream, (B, n, n), as a dense matrix."""
    n = W_hh.shape[0]
    eye = torch.eye(n, dtype=W_hh.dtype, device=W_hh.device)
    return (1.0 - alpha) * eye + alpha * dphi[:, :, None] * W_hh[None]


def _left_multiply(J: Tensor, M: Tensor) -> Tensor:
    """J M per stream, (B, n, n) x (B, n, P): sum_l J[k, l] M[l, p] written out elementwise (a batched matmul of
    these small shapes can take milliseconds on a busy machine with threaded BLAS)."""
    return (J[:, :, :, None] * M[:, None, :, :]).sum(2)


def _split(G: Tensor, n: int, I: int) -> Tuple[Tensor, Tensor, Tensor]:
    return G[:, :n].clone(), G[:, n:n + I].clone(), G[:, n + I].clone()


def _pre_activations(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float,
                     nonlinearity: str) -> Tuple[Tensor, Tensor]:
    """(states a_1..a_T, pre-activations h_1..h_T), both (T, B, n), not differentiable."""
    with torch.no_grad():
        a = _initial_state(x, h0, W_hh.shape[0])
        states, pre = [], []
        for t in range(x.shape[0]):
            h = a @ W_hh.T + x[t] @ W_ih.T + b
            a = (1.0 - alpha) * a + alpha * phi(h, nonlinearity)
            states.append(a)
            pre.append(h)
        return torch.stack(states), torch.stack(pre)


def one_step_input_grads(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float,
                         nonlinearity: str, grad_output: Tensor) -> Tuple[Tensor, Tensor]:
    """The input and initial-state gradients every local rule passes on (one step, no credit through time):

        X_t = alpha phi'(h_t) * g_t,   dx_t = W_ih^T X_t,   dh0 = (1 - alpha) g_1 + W_hh^T X_1.
    """
    _, pre = _pre_activations(x, h0, W_hh, W_ih, b, alpha, nonlinearity)
    X = alpha * phi_prime(pre, nonlinearity) * grad_output
    return X @ W_ih, (1.0 - alpha) * grad_output[0] + X[0] @ W_hh


def _with_input_grads(x, h0, W_hh, W_ih, b, alpha, nonlinearity, grad_output, weight_grads):
    gx, gh0 = one_step_input_grads(x, h0, W_hh, W_ih, b, alpha, nonlinearity, grad_output)
    return (gx, gh0) + tuple(weight_grads)


def _leaves(*tensors):
    return [t.detach().clone().requires_grad_(True) for t in tensors]


def bptt_grads(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float,
               nonlinearity: str, grad_output: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The exact gradient, by autograd through leaky_rnn_forward: (grad_x, grad_h0, grad_W_hh, grad_W_ih, grad_b)."""
    xs, a0, W, U, c = _leaves(x, _initial_state(x, h0, W_hh.shape[0]), W_hh, W_ih, b)
    out = leaky_rnn_forward(xs, a0, W, U, c, alpha, nonlinearity)
    return torch.autograd.grad(out, [xs, a0, W, U, c], grad_output)


class LocalOnlineResult(NamedTuple):
    """What the local rules' online references return: per-step losses (T, B), the updated network state
    and weights, rec_grad = the sum of the recurrent updates G_t applied (mean over streams; the weights
    moved by -lr * rec_grad), and the rule's own state (dict; see each function)."""
    losses: Tensor
    hidden: Tensor
    weight_hh: Tensor
    weight_ih: Tensor
    bias: Tensor
    weight_out: Tensor
    bias_out: Tensor
    rec_grad: Tensor
    state: dict


def _online_loop(step_rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                 nonlinearity, loss, lr, state, l2=0.0, optimizer_step=None):
    """The shared step of §2.1 for B streams sharing the weights: for t = 1..T

        1. h_t = W_hh a_{t-1} + W_ih x_t + b,  a_t = (1-alpha) a_{t-1} + alpha phi(h_t)   (current weights)
        2. z_t = W_out a_t + b_out;  (L_t, e_t) = readout_loss(z_t, y_t)
        3. q_t = F^T e_t, F = W_out (before its update) or the fixed feedback
        4. G = step_rule(t, ahat_t, phi'(h_t), q_t, W_hh, ctx)  (None: no update this step);  W -= lr G,
           ctx = {"a_prev", "a_new", "x", "y", "W_ih", "b"} for the rules that need more
        5. W_out -= lr/B sum_b e_b a_b^T,  b_out -= lr/B sum_b e_b
    with l2 > 0, l2 W (the weights before the step's update) added to the gradients of W_hh, W_ih and W_out
    every step, whether or not the rule updates (§2.1 4d; not the biases).

    optimizer_step (None: the plain SGD above, unchanged) replaces the updates of steps 4 and 5 by another
    optimiser (the op's ``optimizer``, §2.7):

        (W_hh, W_ih, b, W_out, b_out) = optimizer_step(t, G, dW_out, db_out, (W_hh, W_ih, b, W_out, b_out))

    with G the rule's (n, m) direction or None (no update this step; the op counts it as G = 0, every step
    is an optimiser step), dW_out = 1/B sum_b e_b a_b^T, db_out = 1/B sum_b e_b, the weights as they are
    before the step's update, and t the step (0-based; for a per-step learning rate). L2 is then the
    optimiser's own (torch.optim's weight_decay: coupled for SGD and Adam, decoupled for AdamW), so l2 must
    be 0 here. rec_grad still sums the G's.
    """
    if optimizer_step is not None and l2 != 0.0:
        raise ValueError("reference: with optimizer_step the optimiser applies L2 (its weight_decay); pass l2=0")
    T, B, I = x.shape
    n = weight_hh.shape[0]
    with torch.no_grad():
        a = hidden.clone()
        W_hh, W_ih, b = weight_hh.clone(), weight_ih.clone(), bias.clone()
        W_out, b_out = weight_out.clone(), bias_out.clone()
        rec_grad = torch.zeros(n, n + I + 1, dtype=x.dtype, device=x.device)
        step_losses = torch.empty(T, B, dtype=x.dtype, device=x.device)
        for t in range(T):
            h = a @ W_hh.T + x[t] @ W_ih.T + b
            a_new = (1.0 - alpha) * a + alpha * phi(h, nonlinearity)
            z = a_new @ W_out.T + b_out
            step_losses[t], e = readout_loss(z, y[t], loss)
            q = e @ (W_out if feedback is None else feedback)
            ctx = {"a_prev": a, "a_new": a_new, "x": x[t], "y": y[t], "W_ih": W_ih, "b": b}
            G = step_rule(t, presynaptic(a, x[t]), phi_prime(h, nonlinearity), q, W_hh, ctx)
            if optimizer_step is not None:
                W_hh, W_ih, b, W_out, b_out = optimizer_step(t, G, (e.T @ a_new) / B, e.sum(0) / B,
                                                             (W_hh, W_ih, b, W_out, b_out))
                if G is not None:
                    rec_grad = rec_grad + G
                a = a_new
                continue
            decay_hh, decay_ih, decay_out = lr * l2 * W_hh, lr * l2 * W_ih, lr * l2 * W_out
            if G is not None:
                W_hh = W_hh - lr * G[:, :n]
                W_ih = W_ih - lr * G[:, n:n + I]
                b = b - lr * G[:, n + I]
                rec_grad = rec_grad + G
            W_hh, W_ih = W_hh - decay_hh, W_ih - decay_ih
            W_out = W_out - decay_out - lr * (e.T @ a_new) / B
            b_out = b_out - lr * e.sum(0) / B
            a = a_new
    return LocalOnlineResult(step_losses, a, W_hh, W_ih, b, W_out, b_out, rec_grad, state)
