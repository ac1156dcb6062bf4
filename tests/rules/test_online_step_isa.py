"""The CPU online step's AVX2 copy (cpu/online_step_cpu.h, docs/design.md §1.6; float32) rounds exactly as the
baseline (SSE2) copy: every online rule, the losses, weights and rule state bitwise equal after a few dozen steps
whichever copy ran (float64 always runs the baseline copy). TLR_CPU_STEP=baseline selects the baseline copy;
ops.online_step_isa() says which copy a float32 call takes, checked against what torch reports of this CPU."""
import copy

import pytest
import torch
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner, ops, rules

ONLINE = sorted(name for name, cls in rules.RULES.items() if cls.has_online_form)
I, N, O, B, T = 3, 12, 2, 2, 40


def cpu_has_avx2() -> bool:
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def learner(rule: str, dtype: torch.dtype, loss: str) -> OnlineLearner:
    g = torch.Generator().manual_seed(7)
    torch.manual_seed(11)
    return OnlineLearner(LocalRNN(I, N, alpha=0.6, generator=g, dtype=dtype), nn.Linear(N, O, dtype=dtype),
                         rule=rule, loss=loss, lr=5e-2, batch_size=B, generator=g, l2=1e-3)


def run(learner_: OnlineLearner, x, y, monkeypatch, isa: str):
    if isa == "baseline":
        monkeypatch.setenv("TLR_CPU_STEP", "baseline")
    else:
        monkeypatch.delenv("TLR_CPU_STEP", raising=False)
    assert ops.online_step_isa() == isa
    losses = learner_.fit(x, y, chunk_size=16)
    return losses, learner_.state_dict()


def flat(state):
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, dict):
        return [t for k in sorted(state, key=str) for t in flat(state[k])]
    if isinstance(state, (list, tuple)):
        return [t for v in state for t in flat(v)]
    return []


BUILT_WITH_AVX2_COPY = ops.online_step_isa() != "baseline-only"


@pytest.mark.skipif(not BUILT_WITH_AVX2_COPY, reason="this build has no AVX2 copy (phase-order check or not x86-64)")
def test_online_step_isa_follows_the_cpu_and_the_switch(monkeypatch):
    monkeypatch.delenv("TLR_CPU_STEP", raising=False)
    assert ops.online_step_isa() == ("avx2" if cpu_has_avx2() else "baseline")
    monkeypatch.setenv("TLR_CPU_STEP", "baseline")
    assert ops.online_step_isa() == "baseline"


@pytest.mark.skipif(not (cpu_has_avx2() and BUILT_WITH_AVX2_COPY),
                    reason="only the baseline copy runs here (no AVX2 on this CPU or no AVX2 copy in this build)")
@pytest.mark.parametrize("rule", ONLINE)
def test_avx2_copy_is_bitwise_the_baseline(rule, monkeypatch):
    dtype = torch.float32
    loss = "mse" if rule in ("kernl",) else "cross_entropy"
    g = torch.Generator().manual_seed(3)
    x = torch.randn(T, B, I, generator=g, dtype=dtype)
    y = torch.softmax(torch.randn(T, B, O, generator=g, dtype=dtype), -1) if loss == "cross_entropy" else \
        torch.randn(T, B, O, generator=g, dtype=dtype)
    first = learner(rule, dtype, loss)
    second = copy.deepcopy(first)
    losses_base, state_base = run(first, x, y, monkeypatch, "baseline")
    losses_avx2, state_avx2 = run(second, x, y, monkeypatch, "avx2")
    assert torch.isfinite(losses_base).all()
    assert torch.equal(losses_base, losses_avx2), rule
    base, avx2 = flat(state_base), flat(state_avx2)
    assert len(base) == len(avx2) > 0
    for a, b in zip(base, avx2):
        assert torch.equal(a, b), rule
