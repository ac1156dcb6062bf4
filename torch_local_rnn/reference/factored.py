"""Pure-PyTorch references of UORO, KF-RTRL and R-KF-RTRL (docs/algorithms.md §3.3-3.5): slow, per step,
dense (explicit Jacobians J_t, explicit immediate-influence pieces), written from docs/algorithms.md and not
from the ops. The noise nu is an input, so a reference and an op fed the same draws must agree.

Rescaling: rho0 = sqrt(|X_f| / |Y|), rho1 = sqrt(|new| / |den|) as in docs/algorithms.md; when a term's norms
vanish (the factors start at exactly 0 in the sequence form, M_0 = 0) the term is 0 and is dropped.
"""
import math
from typing import Optional

import torch
from torch import Tensor

from .core import (_initial_state, _online_loop, _pre_activations, _split, _with_input_grads, jacobians, phi_prime,
                   presynaptic)


def _rho(num: float, den: float, fixed: Optional[float]):
    """(rho, used): fixed if given, else sqrt(num / den); used = False when the term is exactly 0."""
    if fixed is not None:
        return fixed, True
    if num > 0 and den > 0:
        return math.sqrt(num / den), True
    return 1.0, False


def uoro_update(A: Tensor, Bm: Tensor, J: Tensor, d: Tensor, ahat: Tensor, nu: Tensor, alpha_m: float,
                rho0: Optional[float] = None, rho1: Optional[float] = None):
    """One stream: A (n), Bm (n, m), J (n, n). Returns the new (A, Bm)."""
    n = A.shape[0]
    Af = J @ A
    P = (nu * alpha_m * d)[:, None] * ahat[None, :]
    r0, keep = _rho(Bm.norm().item(), Af.norm().item(), rho0)
    r1, add = _rho(P.norm().item(), math.sqrt(n), rho1)
    A_new = (r0 * Af if keep else 0 * Af) + (r1 * nu if add else 0 * nu)
    B_new = (Bm / r0 if keep else 0 * Bm) + (P / r1 if add else 0 * P)
    return A_new, B_new


def kf_rtrl_update(A: Tensor, Bk: Tensor, J: Tensor, d: Tensor, ahat: Tensor, nu: Tensor, alpha_m: float,
                   rho0: Optional[float] = None, rho1: Optional[float] = None):
    """One stream: A (m), Bk (n, n), nu (2). Returns the new (A, Bk)."""
    Bf = J @ Bk
    D = torch.diag(alpha_m * d)
    r0, keep = _rho(Bf.norm().item(), A.norm().item(), rho0)
    r1, add = _rho(D.norm().item(), ahat.norm().item(), rho1)
    A_new = (nu[0] * r0 * A if keep else 0 * A) + (nu[1] * r1 * ahat if add else 0 * ahat)
    B_new = (nu[0] * Bf / r0 if keep else 0 * Bf) + (nu[1] * D / r1 if add else 0 * D)
    return A_new, B_new


def rkf_rtrl_update(A: Tensor, Bk: Tensor, J: Tensor, d: Tensor, ahat: Tensor, nu: Tensor, alpha_m: float,
                    rho0: Optional[float] = None, rho1: Optional[float] = None):
    """One stream: A (n), Bk (n, m). Returns the new (A, Bk)."""
    n = A.shape[0]
    Bf = J @ Bk
    P = (nu * alpha_m * d)[:, None] * ahat[None, :]
    r0, keep = _rho(Bf.norm().item(), A.norm().item(), rho0)
    r1, add = _rho(P.norm().item(), math.sqrt(n), rho1)
    A_new = (r0 * A if keep else 0 * A) + (r1 * nu if add else 0 * nu)
    B_new = (Bf / r0 if keep else 0 * Bf) + (P / r1 if add else 0 * P)
    return A_new, B_new


def influence_estimate(rule: str, A: Tensor, Bk: Tensor) -> Tensor:
    """The factored estimate of M as a dense (n, n, m) tensor M[k, i, j]."""
    if rule == "uoro":      # A_k B_ij
        return A[:, None, None] * Bk[None, :, :]
    if rule == "kf_rtrl":   # A_j B_ki
        return Bk[:, :, None] * A[None, None, :]
    return A[None, :, None] * Bk[:, None, :]  # rkf_rtrl: A_i B_kj


UPDATES = {"uoro": uoro_update, "kf_rtrl": kf_rtrl_update, "rkf_rtrl": rkf_rtrl_update}


def _zero_factors(rule: str, n: int, m: int, like: Tensor):
    shapes = {"uoro": ((n,), (n, m)), "kf_rtrl": ((m,), (n, n)), "rkf_rtrl": ((n,), (n, m))}[rule]
    return tuple(torch.zeros(s, dtype=like.dtype, device=like.device) for s in shapes)


def factored_sequence_grads(rule: str, x: Tensor, h0: Optional[Tensor], W_hh: Tensor, W_ih: Tensor, b: Tensor,
                            alpha: float, nonlinearity: str, grad_output: Tensor, noise: Tensor,
                            legacy_alpha_omission: bool = False, rho0: Optional[float] = None,
                            rho1: Optional[float] = None):
    """Sequence form with frozen weights: per stream the factors start at 0, G = sum_t sum_k g_t,k M~_t[k, i, j]
    with the dense estimate M~_t. Returns (grad_x, grad_h0, grad_W_hh, grad_W_ih, grad_b)."""
    T, B, I = x.shape
    n = W_hh.shape[0]
    m = n + I + 1
    alpha_m = 1.0 if legacy_alpha_omission else alpha
    states, pre = _pre_activations(x, h0, W_hh, W_ih, b, alpha, nonlinearity)
    a0 = _initial_state(x, h0, n)
    G = torch.zeros(n, m, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for s in range(B):
            A, Bk = _zero_factors(rule, n, m, x)
            for t in range(T):
                prev = a0[s] if t == 0 else states[t - 1, s]
                d = phi_prime(pre[t, s], nonlinearity)
                J = jacobians(W_hh, d[None], alpha)[0]
                ahat = presynaptic(prev[None], x[t, s][None])[0]
                A, Bk = UPDATES[rule](A, Bk, J, d, ahat, noise[t, s], alpha_m, rho0, rho1)
                G = G + torch.einsum("k,kij->ij", grad_output[t, s], influence_estimate(rule, A, Bk))
    return _with_input_grads(x, h0, W_hh, W_ih, b, alpha, nonlinearity, grad_output, _split(G, n, I))


def factored_online(rule: str, x: Tensor, y: Tensor, hidden: Tensor, factor_a: Tensor, factor_b: Tensor,
                    weight_hh: Tensor, weight_ih: Tensor, bias: Tensor, weight_out: Tensor, bias_out: Tensor,
                    noise: Tensor, feedback: Optional[Tensor] = None, alpha: float = 1.0, nonlinearity: str = "tanh",
                    loss: str = "cross_entropy", lr: float = 1e-4, l2: float = 0.0, legacy_alpha_omission: bool = False,
                    rho0: Optional[float] = None, rho1: Optional[float] = None):
    """Online UORO / KF-RTRL / R-KF-RTRL (§2.1 order), functional. Per stream b the factors are updated with
    J_t of the current weights and nu_{t,b}; G = 1/B sum_b sum_k q_{t,bk} M~_b[k, i, j].
    state = {"factor_a", "factor_b"}: the final factors."""
    B = hidden.shape[0]
    alpha_m = 1.0 if legacy_alpha_omission else alpha
    box = {"A": [factor_a[s].clone() for s in range(B)], "B": [factor_b[s].clone() for s in range(B)]}

    def step(t, ahat, d, q, W_hh, *_):
        J = jacobians(W_hh, d, alpha)
        G = 0.0
        for s in range(B):
            box["A"][s], box["B"][s] = UPDATES[rule](box["A"][s], box["B"][s], J[s], d[s], ahat[s], noise[t, s],
                                                     alpha_m, rho0, rho1)
            G = G + torch.einsum("k,kij->ij", q[s], influence_estimate(rule, box["A"][s], box["B"][s])) / B
        return G

    r = _online_loop(step, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                     nonlinearity, loss, lr, {}, l2=l2)
    return r._replace(state={"factor_a": torch.stack(box["A"]), "factor_b": torch.stack(box["B"])})
