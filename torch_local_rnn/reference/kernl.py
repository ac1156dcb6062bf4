"""Pure-PyTorch reference of KeRNL (docs/algorithms.md §3.7): slow, per step, written from that section with dense
matrices, independent of the ops. KeRNL's noise is an input (standard normal draws, scaled by sigma here),
so a reference and an op fed the same draws must agree."""
from typing import Optional

import torch
from torch import Tensor

from .core import _online_loop, _pre_activations, _split, _with_input_grads, phi, phi_prime, presynaptic


def kernl_kernel(rates: Tensor, version: str = "2020") -> Tensor:
    """k of §3.7: max(0, 1 - rates); the 2019 exact kernel exp(-rates)."""
    return torch.exp(-rates) if version == "2019-exact" else torch.clamp(1.0 - rates, min=0.0)


def kernl_sequence_grads(x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor, alpha: float,
                         nonlinearity: str, grad_output: Tensor, mixing: Tensor, rates: Tensor, version: str = "2020",
                         learned_alpha_e: bool = False):
    """KeRNL with A and the rates frozen, traces from 0, explicit per-stream traces:
    B_t = diag(k) B_{t-1} + alpha phi'(h_t) ahat_t^T (learned_alpha_e: (1 - k) for alpha);  G = sum_t diag(A^T g_t) B_t."""
    T, B, I = x.shape
    n = W_hh.shape[0]
    states, pre = _pre_activations(x, h0, W_hh, W_ih, b, alpha, nonlinearity)
    a0 = torch.zeros(B, n, dtype=x.dtype) if h0 is None else h0
    k = kernl_kernel(rates, version)
    immediate = (1.0 - k) if learned_alpha_e else alpha
    trace = torch.zeros(B, n, n + I + 1, dtype=x.dtype)
    G = torch.zeros(n, n + I + 1, dtype=x.dtype)
    for t in range(T):
        prev = a0 if t == 0 else states[t - 1]
        ahat = presynaptic(prev, x[t])
        trace = k[None, :, None] * trace + (immediate * phi_prime(pre[t], nonlinearity))[:, :, None] * ahat[:, None, :]
        G = G + ((grad_output[t] @ mixing)[:, :, None] * trace).sum(0)
    return _with_input_grads(x, h0, W_hh, W_ih, b, alpha, nonlinearity, grad_output, _split(G, n, I))


def kernl_online(x: Tensor, y: Tensor, hidden: Tensor, state: dict, weight_hh: Tensor, weight_ih: Tensor,
                 bias: Tensor, weight_out: Tensor, bias_out: Tensor, noise: Tensor, sigma: float = 1e-5,
                 lr_aux: float = 5.0, reset_interval: Optional[int] = None, feedback: Optional[Tensor] = None,
                 alpha: float = 1.0, nonlinearity: str = "tanh", loss: str = "cross_entropy", lr: float = 1e-4,
                 l2: float = 0.0, version: str = "2020", learned_alpha_e: bool = False):
    """Online KeRNL (v2020; version "2019-approx" / "2019-exact": Omega <- k Omega + (1 - k) zeta, and the
    exact kernel k = exp(-rates) with Gamma <- k (Gamma - Omega); learned_alpha_e: the trace's immediate
    factor 1 - k instead of alpha), functional. ``state`` holds the op's carried tensors by the names of
    rules.KeRNL.online_state (trace, kernl_mixing, kernl_rates, kernl_omega, kernl_gamma, kernl_zeta,
    kernl_perturbed, kernl_count); returns them updated in ``state``. Steps 1-11 of §3.7, then
    G = 1/B sum_b diag(A^T q_b) B_b with the updated A."""
    st = {k: v.clone() for k, v in state.items()}
    B = hidden.shape[0]

    def step(t, ahat, d, q, W_hh, ctx):
        k = kernl_kernel(st["kernl_rates"], version)
        if reset_interval and int(st["kernl_count"].item()) % reset_interval == 0:
            st["kernl_perturbed"] = ctx["a_new"].clone()
            for name in ("kernl_omega", "kernl_gamma", "trace"):
                st[name] = torch.zeros_like(st[name])
        moved = st["kernl_perturbed"] + st["kernl_zeta"]
        h = moved @ W_hh.T + ctx["x"] @ ctx["W_ih"].T + ctx["b"]
        st["kernl_perturbed"] = (1 - alpha) * moved + alpha * phi(h, nonlinearity)
        st["kernl_zeta"] = sigma * noise[t]
        if version == "2019-exact":
            st["kernl_gamma"] = k * (st["kernl_gamma"] - st["kernl_omega"])
        else:
            st["kernl_gamma"] = k * st["kernl_gamma"] - st["kernl_omega"]
        injected = st["kernl_zeta"] if version == "2020" else (1.0 - k) * st["kernl_zeta"]
        st["kernl_omega"] = k * st["kernl_omega"] + injected
        immediate = (1.0 - k) if learned_alpha_e else alpha
        st["trace"] = k[None, :, None] * st["trace"] + (immediate * d)[:, :, None] * ahat[:, None, :]
        A = st["kernl_mixing"]
        eps = st["kernl_omega"] @ A.T - (st["kernl_perturbed"] - ctx["a_new"])   # (B, n)
        grad_A = (eps[:, :, None] * st["kernl_omega"][:, None, :]).mean(0)
        grad_rates = ((eps @ A) * st["kernl_gamma"]).mean(0)
        st["kernl_mixing"] = A - lr_aux * grad_A
        st["kernl_rates"] = st["kernl_rates"] - lr_aux * grad_rates
        if reset_interval:
            st["kernl_count"] = (st["kernl_count"] + 1) % reset_interval
        return ((q @ st["kernl_mixing"])[:, :, None] * st["trace"]).sum(0) / B

    r = _online_loop(step, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                     nonlinearity, loss, lr, {}, l2=l2)
    return r._replace(state=st)
