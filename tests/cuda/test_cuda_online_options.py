"""The online options added after the first GPU run, CUDA against the CPU (float64, 1e-9): the fused optimisers
(momentum, adam, adamw; docs/algorithms.md §2.7) with L2, a per-step learning-rate schedule, and the general
path's credit mode (§2.8: any readout module, a loss given as a function). Skipped without a GPU."""
import pytest
import torch
from torch import nn

import torch_local_rnn
from cuda_configs import CUDA, build_learner, stream
from helpers import assert_rel
from torch_local_rnn import rules

pytestmark = pytest.mark.skipif(not torch.cuda.is_available() or not torch_local_rnn.has_cuda_kernels(),
                                reason="needs a GPU and a CUDA build of torch_local_rnn")

D = torch.float64
RULES = [rules.RFLO(), rules.RTRL(), rules.FBPTT(truncation=4), rules.EBPTT(window=3), rules.UORO(),
         rules.KFRTRL(), rules.KeRNL(), rules.DNI(), rules.DNIb()]
IDS = [r.name for r in RULES]


def learner_pair(rule, **options):
    """The same learner twice from the same seeds (n = 12, batch 3); the second on the GPU."""
    return [build_learner(rule, D, 3, n=12, seed=0, **options).to(device) for device in ("cpu", "cuda")]


def assert_same_learners(gpu, cpu, context):
    for (name, g), (_, c) in zip(gpu.state_dict().items(), cpu.state_dict().items()):
        if torch.is_tensor(g) and g.is_floating_point():
            assert g.device.type == "cuda", f"{context} {name} on {g.device}"
            assert_rel(g.cpu(), c, 1e-9, f"{context} {name}")


@pytest.mark.parametrize("optimizer", ["momentum", "adam", "adamw"])
@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_fused_optimizers_cuda_equal_cpu(rule, optimizer):
    cpu, gpu = learner_pair(rule, optimizer=optimizer, l2=1e-2)
    start = {k: v.clone() for k, v in cpu.state_dict().items() if torch.is_tensor(v)}
    x, y = stream(25, 3)
    assert_rel(gpu.fit(x.to(CUDA), y.to(CUDA), chunk_size=10).cpu(), cpu.fit(x, y, chunk_size=10), 1e-9,
               f"{rule.name} {optimizer} losses")
    assert not torch.equal(cpu.state_dict()["optimizer_state"], start["optimizer_state"]), "optimiser idle"
    assert_same_learners(gpu, cpu, f"{rule.name} {optimizer}")


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_lr_schedule_cuda_equals_cpu(rule):
    cpu, gpu = learner_pair(rule)
    x, y = stream(25, 3)
    schedule = torch.linspace(0.05, 0.0, x.shape[0], dtype=D)
    got = gpu.fit(x.to(CUDA), y.to(CUDA), lr_schedule=schedule.to(CUDA))
    assert_rel(got.cpu(), cpu.fit(x, y, lr_schedule=schedule), 1e-9, f"{rule.name} schedule losses")
    assert_same_learners(gpu, cpu, f"{rule.name} schedule")


def cross_entropy(z, y):
    return -(y * torch.log_softmax(z, -1)).sum(-1)


# The DNIs read the labels as the readout's outputs, so they take the fused path only (OnlineLearner refuses them).
@pytest.mark.parametrize("rule", [r for r in RULES if r.name not in ("dni", "dni_b")],
                         ids=[r.name for r in RULES if r.name not in ("dni", "dni_b")])
def test_general_path_cuda_equals_cpu(rule):
    """A two-layer readout and a loss function: the op runs in the credit mode on both devices."""
    cpu, gpu = learner_pair(rule, readout=lambda n, O: nn.Sequential(nn.Linear(n, 5), nn.Tanh(), nn.Linear(5, O)),
                            loss=cross_entropy, optimizer="adam")
    x, y = stream(12, 3)
    assert_rel(gpu.fit(x.to(CUDA), y.to(CUDA)).cpu(), cpu.fit(x, y), 1e-9, f"{rule.name} general losses")
    assert_same_learners(gpu, cpu, f"{rule.name} general")
