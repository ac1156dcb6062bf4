"""Pure-PyTorch reference of DNI / DNI(b) (docs/algorithms.md §3.8, §4): slow, per step, written from the spec
with dense matrices, independent of the ops."""
from typing import Optional

import torch
from torch import Tensor

from .core import _online_loop, jacobians


def dni_online(x: Tensor, y: Tensor, hidden: Tensor, state: dict, weight_hh: Tensor, weight_ih: Tensor,
               bias: Tensor, weight_out: Tensor, bias_out: Tensor, lr_sg: float = 1e-3, lr_j: float = 1e-3,
               fix_interval: int = 5, approximate_jacobian: bool = False, tanh_target: bool = False,
               alpha_e: float = 0.0, sg_l2: float = 0.0, late_jacobian: bool = False, credit: Optional[Tensor] = None,
               feedback: Optional[Tensor] = None, alpha: float = 1.0, nonlinearity: str = "tanh",
               loss: str = "cross_entropy", lr: float = 1e-4, l2: float = 0.0):
    """Online DNI / DNI(b) (§3.8 v2020 order), functional, on the state of rules.DNI.online_state (sg_weight,
    sg_frozen, sg_jacobian, sg_q_prev, sg_label_prev, sg_count, eligibility). ``credit`` (T, B, n) replaces
    U_t in the update; late_jacobian: W_a learns after the apical step (the 2019 order). Returns the updated
    state and, in state["record"], (T, B, 4, n) = (U_t, U*_{t-1}, U_{t-1}, V_t = h_t)."""
    st = {k: v.clone() for k, v in state.items()}
    records = []

    def step(t, ahat, d, q, W_hh, ctx):
        a_prev, a_new = ctx["a_prev"], ctx["a_new"]
        ones = torch.ones(a_new.shape[0], 1, dtype=a_new.dtype)
        def learn_jacobian():  # W_a regresses a_t on a_{t-1}
            r = a_prev @ st["sg_jacobian"].T - a_new
            st["sg_jacobian"] = st["sg_jacobian"] - lr_j * (r[:, :, None] * a_prev[:, None, :]).mean(0)

        if approximate_jacobian and not late_jacobian:
            learn_jacobian()
        in_prev = torch.cat([a_prev, st["sg_label_prev"], ones], 1)
        in_now = torch.cat([a_new, ctx["y"], ones], 1)
        u = in_prev @ st["sg_weight"].T
        v = in_now @ st["sg_frozen"].T
        if tanh_target:
            v = torch.tanh(v)
        if approximate_jacobian:
            back = v @ st["sg_jacobian"]                                     # J~^T v per stream
        else:
            back = (jacobians(W_hh, d, alpha).transpose(1, 2) @ v[:, :, None])[:, :, 0]
        target = st["sg_q_prev"] + back
        grad_A = ((u - target)[:, :, None] * in_prev[:, None, :]).mean(0) + sg_l2 * st["sg_weight"]
        st["sg_weight"] = st["sg_weight"] - lr_sg * grad_A
        if approximate_jacobian and late_jacobian:
            learn_jacobian()
        if int(st["sg_count"].item()) >= fix_interval - 1:
            st["sg_frozen"] = st["sg_weight"].clone()
            st["sg_count"] = torch.zeros_like(st["sg_count"])
        else:
            st["sg_count"] = st["sg_count"] + 1
        s = credit[t] if credit is not None else in_now @ st["sg_weight"].T
        if alpha_e > 0:
            st["eligibility"] = (1 - alpha_e) * st["eligibility"] + alpha_e * d[:, :, None] * ahat[:, None, :]
            G = (s[:, :, None] * st["eligibility"]).mean(0)
        else:
            G = ((s * alpha * d)[:, :, None] * ahat[:, None, :]).mean(0)
        basal = a_prev @ W_hh.T + ctx["x"] @ ctx["W_ih"].T + ctx["b"]
        records.append(torch.stack([s, target, u, basal], 1))
        st["sg_q_prev"] = q.clone()
        st["sg_label_prev"] = ctx["y"].clone()
        return G

    r = _online_loop(step, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha,
                     nonlinearity, loss, lr, {}, l2=l2)
    st["record"] = torch.stack(records)
    return r._replace(state=st)
