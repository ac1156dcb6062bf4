"""References of F-BPTT and E-BPTT (docs/algorithms.md §3.9, §3.10): sequence forms by autograd on truncated
forward passes, online forms with explicit histories and dense Jacobians."""
from typing import Optional

import torch
from torch import Tensor

from .core import (LocalOnlineResult, _initial_state, _leaves, _online_loop, _pre_activations, _with_input_grads,
                   jacobians, leaky_rnn_forward, phi)


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
