"""Typed wrappers over the registered ops (torch.ops.torch_local_rnn.*).

Notation (algorithms.md §1): x_t input, a_t state, h_t = W_hh a_{t-1} + W_ih x_t + b the
pre-activation, a_t = (1 - alpha) a_{t-1} + alpha phi(h_t). Shapes: x (T, B, I), h0 (B, n),
weight_hh (n, n), weight_ih (n, I), bias (n); states (T, B, n).
"""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

_ops = torch.ops.torch_local_rnn


def leaky_rnn(x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor, bias: Tensor, alpha: float = 1.0,
              nonlinearity: str = "tanh", rule: str = "bptt", rule_options: Optional[List[float]] = None,
              rule_tensors: Optional[List[Tensor]] = None) -> Tensor:
    """States a_1..a_T, Tensor[T, B, n]. Differentiable; the backward is the rule's:
    "bptt" the exact gradient, "rflo" RFLO's estimate (rule_options = [trace_alpha]), any other rule with a
    sequence form its estimate (rule_tensors: the noise draws of uoro / kf_rtrl / rkf_rtrl, KeRNL's A and
    rates; see leaky_rnn_rule_backward)."""
    return _ops.leaky_rnn.default(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity, rule,
                                  [] if rule_options is None else list(rule_options),
                                  [] if rule_tensors is None else list(rule_tensors))


def leaky_rnn_forward(x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor, bias: Tensor,
                      alpha: float = 1.0, nonlinearity: str = "tanh") -> Tuple[Tensor, Tensor]:
    """(output, dphi): states a_1..a_T and phi'(h_t), both Tensor[T, B, n]; not differentiable."""
    return _ops.leaky_rnn_forward.default(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity)


def leaky_rnn_bptt_backward(grad_output: Tensor, x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                            output: Tensor, dphi: Tensor, alpha: float = 1.0):
    """Exact BPTT given grad_output = dL/da_t, Tensor[T, B, n].
    Returns (grad_x, grad_h0, grad_weight_hh, grad_weight_ih, grad_bias)."""
    return _ops.leaky_rnn_bptt_backward.default(grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha)


def leaky_rnn_rflo_backward(grad_output: Tensor, x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                            output: Tensor, dphi: Tensor, alpha: float = 1.0, trace_alpha: Optional[float] = None):
    """RFLO's estimate over the window (weights frozen, trace starting at 0), GEMM form.
    grad_x and grad_h0 are the one-step gradients. Same returns as leaky_rnn_bptt_backward."""
    return _ops.leaky_rnn_rflo_backward.default(grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha,
                                                alpha if trace_alpha is None else trace_alpha)


def leaky_rnn_rule_backward(grad_output: Tensor, x: Tensor, h0: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                            output: Tensor, dphi: Tensor, alpha: float, rule: str,
                            rule_options: Optional[List[float]] = None, rule_tensors: Optional[List[Tensor]] = None):
    """Sequence form of the other local rules given dL/da_t (weights frozen, traces from zero):

    ===========  ======================================================  ==========================================
    rule         rule_options                                            rule_tensors
    ===========  ======================================================  ==========================================
    output_only  []                                                      []
    rtrl         [] or [legacy_alpha_omission]                           []
    f_bptt       [truncation] or [truncation, legacy_alpha_omission]     []
    e_bptt       [window] or [window, legacy_alpha_omission]             []
    uoro         [] / [legacy] / [legacy, rho0, rho1]                    [nu (T, B, n)]
    kf_rtrl      same                                                    [nu (T, B, 2)]
    rkf_rtrl     same                                                    [nu (T, B, n)]
    kernl        [] or [sigma, lr, reset_interval] (unused here)         [A (n, n), rates (n)]
    ===========  ======================================================  ==========================================

    grad_x and grad_h0 are the one-step gradients. Same returns as leaky_rnn_bptt_backward."""
    return _ops.leaky_rnn_rule_backward.default(grad_output, x, h0, weight_hh, weight_ih, output, dphi, alpha, rule,
                                                [] if rule_options is None else list(rule_options),
                                                [] if rule_tensors is None else list(rule_tensors))


def online_learn(rule: str, x: Tensor, y: Tensor, hidden: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                 bias: Tensor, weight_out: Tensor, bias_out: Tensor, state: List[Tensor],
                 rec_grad: Optional[Tensor] = None, feedback: Optional[Tensor] = None, alpha: float = 1.0,
                 nonlinearity: str = "tanh", loss: str = "cross_entropy", lr: float = 1e-4,
                 rule_options: Optional[List[float]] = None, rule_tensors: Optional[List[Tensor]] = None,
                 record: Optional[Tensor] = None, l2: float = 0.0) -> Tensor:
    """T online steps of ``rule`` (algorithms.md §2.1), like rflo_online; ``state`` holds the rule's
    carried tensors (rules.<Rule>.online_state gives them), updated in place with hidden and the weights.
    rec_grad (n, n + I + 1), when given, accumulates every step's recurrent update direction G_t (mean over
    streams): with lr = 0 it is the rule's gradient estimate. rule_tensors: the per-step noise of the
    stochastic rules (rules.<Rule>.noise), or for dni / dni_b optionally [credit (T, B, n)] used in place of
    the synthetic gradient. record (T, B, 4, n), dni / dni_b only, receives per step U_t (the apical
    potential used in the update), U*_{t-1} (the bootstrapped target), U_{t-1} (its prediction before
    the apical update) and V_t = h_t (the basal potential). l2: L2 on W_hh, W_ih and W_out (not the biases),
    l2 W added to their gradients every step (algorithms.md §2.1). Returns the losses, Tensor[T, B]."""
    return _ops.online_learn.default(rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out,
                                     list(state), rec_grad, feedback, alpha, nonlinearity, loss, lr,
                                     [] if rule_options is None else list(rule_options),
                                     [] if rule_tensors is None else list(rule_tensors), record, l2)


def rflo_online(x: Tensor, y: Tensor, hidden: Tensor, trace: Tensor, weight_hh: Tensor, weight_ih: Tensor,
                bias: Tensor, weight_out: Tensor, bias_out: Tensor, feedback: Optional[Tensor] = None,
                alpha: float = 1.0, trace_alpha: Optional[float] = None, nonlinearity: str = "tanh",
                loss: str = "cross_entropy", lr: float = 1e-4, l2: float = 0.0) -> Tensor:
    """T online RFLO steps (algorithms.md §2.1, §3.6) with readout z = W_out a + b_out, the loss,
    and an SGD step of every weight after every step, averaged over the B streams.
    Updates hidden (B, n), trace (B, n, n + I + 1) and all weights in place.
    y: Tensor[T, B, O] (probabilities for cross_entropy); l2 as in online_learn. Returns the losses, Tensor[T, B]."""
    return _ops.rflo_online.default(x, y, hidden, trace, weight_hh, weight_ih, bias, weight_out, bias_out,
                                    feedback, alpha, alpha if trace_alpha is None else trace_alpha,
                                    nonlinearity, loss, lr, l2)
