"""The CPU online step's AVX2 copy (cpu/online_step_cpu.h, docs/design.md §1.6; float32) rounds exactly as the
baseline (SSE2) copy: every online rule and loss, the losses, weights and rule state bitwise equal after a few
dozen steps whichever copy ran (float64 always runs the baseline copy). TLR_CPU_STEP=baseline selects the baseline copy;
ops.online_step_isa() says which copy a float32 call takes, checked against what torch reports of this CPU."""
import copy

import pytest
import torch
from torch import nn

from helpers import assert_same_learner
from torch_local_rnn import LocalRNN, OnlineLearner, ops, rules

ONLINE = sorted(name for name, cls in rules.RULES.items() if cls.has_online_form)
I, N, O, B, T = 3, 12, 2, 2, 40
DTYPE = torch.float32  # the AVX2 copy is float only


def cpu_has_avx2() -> bool:
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def learner(rule: str, loss: str) -> OnlineLearner:
    g = torch.Generator().manual_seed(7)
    torch.manual_seed(11)
    return OnlineLearner(LocalRNN(I, N, alpha=0.6, generator=g, dtype=DTYPE), nn.Linear(N, O, dtype=DTYPE),
                         rule=rule, loss=loss, lr=5e-2, batch_size=B, generator=g, l2=1e-3)


def fit(learner_: OnlineLearner, x, y, monkeypatch, isa: str):
    if isa == "baseline":
        monkeypatch.setenv("TLR_CPU_STEP", "baseline")
    else:
        monkeypatch.delenv("TLR_CPU_STEP", raising=False)
    assert ops.online_step_isa() == isa
    return learner_.fit(x, y, chunk_size=16)


BUILT_WITH_AVX2_COPY = ops.online_step_isa() != "baseline-only"


@pytest.mark.skipif(not BUILT_WITH_AVX2_COPY, reason="this build has no AVX2 copy (phase-order check or not x86-64)")
def test_online_step_isa_follows_the_cpu_and_the_switch(monkeypatch):
    monkeypatch.delenv("TLR_CPU_STEP", raising=False)
    assert ops.online_step_isa() == ("avx2" if cpu_has_avx2() else "baseline")
    monkeypatch.setenv("TLR_CPU_STEP", "baseline")
    assert ops.online_step_isa() == "baseline"


@pytest.mark.skipif(not (cpu_has_avx2() and BUILT_WITH_AVX2_COPY),
                    reason="only the baseline copy runs here (no AVX2 on this CPU or no AVX2 copy in this build)")
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("rule", ONLINE)
def test_avx2_copy_is_bitwise_the_baseline(rule, loss, monkeypatch):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(T, B, I, generator=g, dtype=DTYPE)
    y = torch.randn(T, B, O, generator=g, dtype=DTYPE)
    if loss == "cross_entropy":
        y = torch.softmax(y, -1)
    first = learner(rule, loss)
    second = copy.deepcopy(first)
    losses_base = fit(first, x, y, monkeypatch, "baseline")
    losses_avx2 = fit(second, x, y, monkeypatch, "avx2")
    assert torch.isfinite(losses_base).all()
    assert torch.equal(losses_base, losses_avx2), rule
    assert_same_learner(second, first, f"{rule} {loss}")
