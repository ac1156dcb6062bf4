"""Hypothesis settings of the property-based tests (tests/ops/test_properties.py and
tests/modules/test_module_properties.py).

Each property is written once, as a function of hypothesis's ``data``, and becomes two tests:

    test_x, test_x_slow = tiers(fast=8, slow=200)(_x)

``test_x`` is in the fast tier (few examples, derandomized: the same examples on every run, so CI is
reproducible); ``test_x_slow`` is marked ``slow`` and draws many random examples. TLR_HYPOTHESIS_SCALE=k
multiplies both counts (e.g. a long local hunt:
TLR_HYPOTHESIS_SCALE=20 pytest -m slow tests/ops/test_properties.py tests/modules/test_module_properties.py).

sequence_reference and online_reference call torch_local_rnn.reference for a rule config: the oracles of both
property files.
"""
import os

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from torch_local_rnn import reference as R

DT = torch.float64

SCALE = max(1, int(os.environ.get("TLR_HYPOTHESIS_SCALE", "1")))
_COMMON = dict(deadline=None, print_blob=True,
               # tests/conftest.py's autouse seed fixture only resets the global RNG; every example is independent
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])


def tiers(fast: int, slow: int):
    """(fast-tier test, slow-tier test) of a property ``body(..., data)``."""
    def wrap(body):
        fast_test = settings(max_examples=fast * SCALE, derandomize=True, **_COMMON)(given(data=st.data())(body))
        slow_test = pytest.mark.slow(settings(max_examples=slow * SCALE, **_COMMON)(given(data=st.data())(body)))
        return fast_test, slow_test
    return wrap


# ----------------------------------------------------------------------------- the references, by rule
def sequence_reference(cfg, net, alpha, nonlinearity, tensors_):
    """(grad_x, grad_h0, grad_W_hh, grad_W_ih, grad_b) of the rule's sequence form, from the reference."""
    a = (net["x"], net["h0"], net["weight_hh"], net["weight_ih"], net["bias"], alpha, nonlinearity,
         net["grad_output"])
    name = cfg.name
    if name == "bptt":
        return R.bptt_grads(*a)
    if name in ("rflo", "eprop"):
        return R.rflo_sequence_grads(*a, None if name == "eprop" else cfg.trace_alpha)
    if name == "output_only":
        return R.output_only_sequence_grads(*a)
    if name == "rtrl":
        return R.rtrl_sequence_grads(*a)
    if name == "f_bptt":
        return R.f_bptt_sequence_grads(*a, cfg.truncation)
    if name == "e_bptt":
        return R.e_bptt_sequence_grads(*a, cfg.window)
    if name in ("uoro", "kf_rtrl", "rkf_rtrl"):
        return R.factored_sequence_grads(name, *a, tensors_[0], cfg.legacy_alpha_omission, cfg.rho0, cfg.rho1)
    if name == "kernl":
        return R.kernl_sequence_grads(*a, tensors_[0], tensors_[1], version=cfg.version,
                                      learned_alpha_e=cfg.learned_alpha_e)
    raise ValueError(name)


def online_reference(cfg, a):
    """The reference online loop from the arguments (before the call)."""
    weights = [a[k] for k in ("weight_hh", "weight_ih", "bias", "weight_out", "bias_out")]
    kw = dict(feedback=a["feedback"], alpha=a["alpha"], nonlinearity=a["nonlinearity"], loss=a["loss"], lr=a["lr"],
              l2=a["l2"])
    x, y, h, st_ = a["x"], a["y"], a["hidden"], a["state"]
    name = cfg.name
    if name == "output_only":
        return R.output_only_online(x, y, h, *weights, **kw)
    if name == "rtrl":
        return R.rtrl_online(x, y, h, st_[0], *weights, **kw)
    if name == "f_bptt":
        return R.f_bptt_online(x, y, h, *weights, cfg.truncation, **kw)
    if name == "e_bptt":
        return R.e_bptt_online(x, y, h, *weights, cfg.window, **kw)
    if name in ("rflo", "eprop"):
        return R.rflo_online(x, y, h, st_[0], *weights, trace_alpha=None if name == "eprop" else cfg.trace_alpha,
                             **kw)
    if name in ("uoro", "kf_rtrl", "rkf_rtrl"):
        return R.factored_online(name, x, y, h, st_[0], st_[1], *weights, a["rule_tensors"][0], **kw,
                                 legacy_alpha_omission=cfg.legacy_alpha_omission, rho0=cfg.rho0, rho1=cfg.rho1)
    keys = list(cfg.online_state(1, 1, 1, outputs=1, dtype=DT))
    state = dict(zip(keys, st_))
    if name == "kernl":
        return R.kernl_online(x, y, h, state, *weights, a["rule_tensors"][0], sigma=cfg.sigma, lr_aux=cfg.lr,
                              reset_interval=cfg.reset_interval, version=cfg.version,
                              learned_alpha_e=cfg.learned_alpha_e, **kw)
    if name in ("dni", "dni_b"):
        return R.dni_online(x, y, h, state, *weights, lr_sg=cfg.lr_sg, lr_j=cfg.lr_j, fix_interval=cfg.fix_interval,
                            approximate_jacobian=cfg.approximate_jacobian, tanh_target=cfg.tanh_target,
                            alpha_e=cfg.alpha_e, sg_l2=cfg.sg_l2, late_jacobian=cfg.version == 2019, **kw)
    raise ValueError(name)


# ----------------------------------------------------------------------------- shared assertions
TOL = 1e-9  # float64 agreement with the references


def assert_close(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    assert torch.isfinite(got).all(), f"{what}: not finite"
    scale = max(1.0, want.abs().max().item()) if want.numel() else 1.0
    err = (got - want).abs().max().item() if want.numel() else 0.0
    assert err <= TOL * scale, f"{what}: max abs error {err:.3e}"


def state_snapshot(module):
    """Clones of a module's state_dict, to check later that a failed call changed nothing."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same_state(module, before, what):
    now = module.state_dict()
    assert set(now) == set(before), f"{what}: keys changed"
    for k, v in now.items():
        assert v.dtype == before[k].dtype and v.shape == before[k].shape and torch.equal(v, before[k]), \
            f"{what} changed {k}"


def to_meta(v):
    """A tensor (or list of tensors) as meta tensors of the same shape, strides and dtype: the fakes' input."""
    if isinstance(v, torch.Tensor):
        return torch.empty_strided(v.shape, v.stride(), dtype=v.dtype, device="meta")
    if isinstance(v, list) and v and all(isinstance(t, torch.Tensor) for t in v):
        return [to_meta(t) for t in v]
    return v
