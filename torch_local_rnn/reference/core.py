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
LOSSES = ("cross_entropy", "mse", "mse_mean")


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
                loss: str = "cross_entropy", lr: float = 1e-4, l2: float = 0.0) -> OnlineResult:
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
    B = hidden.shape[0]
    box = {"trace": trace.clone()}

    def step(t, ahat, d, q, W_hh, *_):  # steps 4 and 5's recurrent part; the rest is the shared loop's
        box["trace"] = (1.0 - k) * box["trace"] + k * d[:, :, None] * ahat[:, None, :]
        return (q[:, :, None] * box["trace"]).sum(0) / B                   # (n, m)

    r = _online_loop(step, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                     nonlinearity, loss, lr, {}, l2=l2)
    return OnlineResult(r.losses, r.hidden, box["trace"], r.weight_hh, r.weight_ih, r.bias, r.weight_out, r.bias_out)


# ============================================================================ local rules (§3.1, §3.2, §3.9, §3.10)
# Sequence forms (frozen weights, g_t = dL/da_t given) and online forms (per-step SGD) of
# output_only, rtrl, f_bptt and e_bptt, written from algorithms.md with dense Jacobians
#     J_t = da_t/da_{t-1} = (1 - alpha) I + alpha diag(phi'(h_t)) W_hh            (B, n, n)
# and, in the sequence forms, autograd on truncated forward passes where that is the clearer statement.
# G (n, m), m = n + I + 1, is the update direction of W = [W_hh | W_ih | b], split column-wise.


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


def _leaves(*tensors):
    return [t.detach().clone().requires_grad_(True) for t in tensors]


def f_bptt_sequence_grads(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float,
                          nonlinearity: str, grad_output: Tensor, truncation: int):
    """F-BPTT(K) (§3.9) over a sequence with frozen weights: every step s receives the credit of the losses
    s .. s+K-1 (those inside the sequence), i.e. the loss g_t . a_t reaches back K steps only:

        G = sum_t d/dW [ g_t . a_t(W; a_{t-K} held fixed) ]

    computed by autograd, one truncated forward pass (steps t-K+1 .. t from the detached a_{t-K}) per t.
    With K >= T it is the BPTT gradient.
    """
    K = int(truncation)
    T = x.shape[0]
    states, _ = _pre_activations(x, h0, W_hh, W_ih, b, alpha, nonlinearity)
    start_state = _initial_state(x, h0, W_hh.shape[0])
    W, U, c = _leaves(W_hh, W_ih, b)
    total = [torch.zeros_like(W_hh), torch.zeros_like(W_ih), torch.zeros_like(b)]
    for t in range(T):
        s = max(0, t - K + 1)
        a0 = (start_state if s == 0 else states[s - 1]).detach()
        a_t = leaky_rnn_forward(x[s:t + 1], a0, W, U, c, alpha, nonlinearity)[-1]
        for acc, gr in zip(total, torch.autograd.grad((grad_output[t] * a_t).sum(), [W, U, c])):
            acc += gr
    return _with_input_grads(x, h0, W_hh, W_ih, b, alpha, nonlinearity, grad_output, total)


def e_bptt_sequence_grads(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float,
                          nonlinearity: str, grad_output: Tensor, window: int):
    """E-BPTT(K) (§3.10) over a sequence with frozen weights: exact BPTT inside the windows
    [0, K), [K, 2K), ... (the last one possibly shorter), i.e. autograd through a forward pass whose
    state is detached at every window start t = 0, K, 2K, ... . With K >= T it is the BPTT gradient."""
    K = int(window)
    W, U, c = _leaves(W_hh, W_ih, b)
    a = _initial_state(x, h0, W_hh.shape[0])
    states = []
    for t in range(x.shape[0]):
        if t % K == 0:
            a = a.detach()
        h = a @ W.T + x[t] @ U.T + c
        a = (1.0 - alpha) * a + alpha * phi(h, nonlinearity)
        states.append(a)
    grads = torch.autograd.grad(torch.stack(states), [W, U, c], grad_output)
    return _with_input_grads(x, h0, W_hh, W_ih, b, alpha, nonlinearity, grad_output, grads)


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
                 nonlinearity, loss, lr, state, l2=0.0):
    """The shared step of §2.1 for B streams sharing the weights: for t = 1..T

        1. h_t = W_hh a_{t-1} + W_ih x_t + b,  a_t = (1-alpha) a_{t-1} + alpha phi(h_t)   (current weights)
        2. z_t = W_out a_t + b_out;  (L_t, e_t) = readout_loss(z_t, y_t)
        3. q_t = F^T e_t, F = W_out (before its update) or the fixed feedback
        4. G = step_rule(t, ahat_t, phi'(h_t), q_t, W_hh, ctx)  (None: no update this step);  W -= lr G,
           ctx = {"a_prev", "a_new", "x", "y", "W_ih", "b"} for the rules that need more
        5. W_out -= lr/B sum_b e_b a_b^T,  b_out -= lr/B sum_b e_b
    with l2 > 0, l2 W (the weights before the step's update) added to the gradients of W_hh, W_ih and W_out
    every step, whether or not the rule updates (§2.1 4d; not the biases).
    """
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


def output_only_online(x: Tensor, y: Tensor, hidden: Tensor, weight_hh: Tensor, weight_ih: Tensor, bias: Tensor,
                       weight_out: Tensor, bias_out: Tensor, feedback: Optional[Tensor] = None, alpha: float = 1.0,
                       nonlinearity: str = "tanh", loss: str = "cross_entropy", lr: float = 1e-4,
                  l2: float = 0.0
                       ) -> LocalOnlineResult:
    """Online Only_Output_Weights (§3.1): G = 0, only the readout learns. Functional."""
    return _online_loop(lambda *_: None, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback,
                        alpha, nonlinearity, loss, lr, {}, l2=l2)


def rtrl_online(x: Tensor, y: Tensor, hidden: Tensor, influence: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                bias: Tensor, weight_out: Tensor, bias_out: Tensor, feedback: Optional[Tensor] = None,
                alpha: float = 1.0, nonlinearity: str = "tanh", loss: str = "cross_entropy", lr: float = 1e-4,
                  l2: float = 0.0
                ) -> LocalOnlineResult:
    """Online RTRL (§2.1, §3.2), functional. Per stream b the influence M_b (n, n*m), column p = i*m + j:

        M_b <- J_t M_b + Mbar_t   (J_t with the current weights, before this step's update)
        G = 1/B sum_b sum_k q_{t,bk} M_b[k, :]   reshaped (n, m)

    influence (B, n, n*m) is the starting M; state = {"influence": the final M}.
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
                     nonlinearity, loss, lr, {}, l2=l2)
    return r._replace(state={"influence": box["M"]})


def f_bptt_online(x: Tensor, y: Tensor, hidden: Tensor, weight_hh: Tensor, weight_ih: Tensor, bias: Tensor,
                  weight_out: Tensor, bias_out: Tensor, truncation: int, feedback: Optional[Tensor] = None,
                  alpha: float = 1.0, nonlinearity: str = "tanh", loss: str = "cross_entropy", lr: float = 1e-4,
                  l2: float = 0.0
                  ) -> LocalOnlineResult:
    """Online F-BPTT(K) (§3.9) from an empty history, functional. Lists, most recent first, of
    (phi'(h_s), ahat_s, c_s); per step t:

        push (phi'(h_t), ahat_t, c_t = q_t);  v = q_t;
        for i = 1 .. len-1:  v <- J(h_{t-i+1})^T v  (J with the current W_hh),  c_{t-i} += v
        if len == K: pop the oldest, s = t-K+1:  G = 1/B sum_b (c_s (.) alpha phi'(h_s)) ahat_s^T;  else no update.

    state = {"history": [(s, phi'(h_s), ahat_s, c_s), ...] oldest first (at most K-1 entries), "steps": T}.
    """
    K = int(truncation)
    B = hidden.shape[0]
    hist = []  # most recent first: [step, dphi, ahat, credit]

    def step(t, ahat, d, q, W_hh, *_):
        hist.insert(0, [t, d, ahat, q.clone()])
        v = q
        for i in range(1, len(hist)):
            J = jacobians(W_hh, hist[i - 1][1], alpha)          # J of step t-i+1
            v = (J.transpose(1, 2) @ v[:, :, None])[:, :, 0]
            hist[i][3] = hist[i][3] + v
        if len(hist) < K:
            return None
        _, d_s, ahat_s, c_s = hist.pop()
        return ((c_s * alpha * d_s)[:, :, None] * ahat_s[:, None, :]).sum(0) / B

    r = _online_loop(step, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                     nonlinearity, loss, lr, {}, l2=l2)
    return r._replace(state={"history": [tuple(e) for e in reversed(hist)], "steps": x.shape[0]})


def e_bptt_online(x: Tensor, y: Tensor, hidden: Tensor, weight_hh: Tensor, weight_ih: Tensor, bias: Tensor,
                  weight_out: Tensor, bias_out: Tensor, window: int, feedback: Optional[Tensor] = None,
                  alpha: float = 1.0, nonlinearity: str = "tanh", loss: str = "cross_entropy", lr: float = 1e-4,
                  l2: float = 0.0
                  ) -> LocalOnlineResult:
    """Online E-BPTT(K) (§3.10) from an empty history, functional. Stores (phi'(h_t), ahat_t, q_t); when K
    are stored (at the end of each window t = K-1, 2K-1, ...):

        c = q_t;  for i = 0 .. K-1:  G += 1/B sum_b (c (.) alpha phi'(h_{t-i})) ahat_{t-i}^T;
                                     if i < K-1: c <- q_{t-i-1} + J(h_{t-i})^T c
        clear the history, W -= lr G (the sum of K per-step terms);  no update on the other steps.

    state = {"history": [(s, phi'(h_s), ahat_s, q_s), ...] of the open window, oldest first, "steps": T}.
    """
    K = int(window)
    B = hidden.shape[0]
    hist = []  # oldest first

    def step(t, ahat, d, q, W_hh, *_):
        hist.append((t, d, ahat, q))
        if len(hist) < K:
            return None
        G = 0.0
        c = hist[-1][3]
        for i in range(K):
            _, d_s, ahat_s, _ = hist[K - 1 - i]
            G = G + ((c * alpha * d_s)[:, :, None] * ahat_s[:, None, :]).sum(0) / B
            if i < K - 1:
                J = jacobians(W_hh, d_s, alpha)
                c = hist[K - 2 - i][3] + (J.transpose(1, 2) @ c[:, :, None])[:, :, 0]
        hist.clear()
        return G

    r = _online_loop(step, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                     nonlinearity, loss, lr, {}, l2=l2)
    return r._replace(state={"history": list(hist), "steps": x.shape[0]})
