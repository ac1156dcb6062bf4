"""Every learning rule's CUDA kernels against its CPU kernels (themselves tested against
torch_local_rnn.reference): the same learner or module, built twice from the same seeds, one copy
moved to the GPU, must give the same losses, weights, carried state and gradients (float64 to
~1e-10 relative, float32 to ~1e-4). The noise of the stochastic rules is drawn on the CPU from the
learner's own generator, so both devices see the same draws. Skipped where there is no GPU or the
library was built without CUDA."""
import pytest
import torch

import torch_local_rnn
from cuda_configs import CUDA, DTYPES, ONLINE, TOLERANCE, build_learner, compare_modules, stream
from helpers import assert_rel
from torch_local_rnn import LocalRNN, rules

pytestmark = pytest.mark.skipif(not torch.cuda.is_available() or not torch_local_rnn.has_cuda_kernels(),
                                reason="needs a GPU and a CUDA build of torch_local_rnn")

# The forward-difference UORO (epsilon) and the DNIs have no sequence form.
SEQUENCE = [(name, cfg) for name, cfg in ONLINE if cfg.name not in ("dni", "dni_b") and "epsilon" not in name]


@DTYPES
@pytest.mark.parametrize("batch", [1, 3, 10])
@pytest.mark.parametrize("name,config", ONLINE, ids=[c[0] for c in ONLINE])
def test_online_cuda_equals_cpu(name, config, batch, dtype):
    cpu = build_learner(config, dtype, batch)
    gpu = build_learner(config, dtype, batch).to(CUDA)
    start = {k: v.detach().clone() for k, v in cpu.named_parameters()}
    x, y = stream(45, batch, dtype=dtype)
    record = config.name in ("dni", "dni_b")
    got = gpu.fit(x.to(CUDA), y.to(CUDA), chunk_size=20, record=record)
    want = cpu.fit(x, y, chunk_size=20, record=record)
    if record:
        (got, got_signals), (want, signals) = got, want
        for key in signals:
            assert_rel(got_signals[key].cpu(), signals[key], TOLERANCE[dtype], f"{name} record {key}")
    tol = TOLERANCE[dtype]
    assert_rel(got.cpu(), want, tol, f"{name} losses")
    compare_modules(gpu, cpu, config, start, tol, f"{name} B={batch} {dtype}")


L2_CASES = [c for c in ONLINE if c[0] in ("rtrl", "e_bptt", "uoro", "kernl", "dni_b")]
L2_CASES.append(("rflo", rules.RFLO()))


@pytest.mark.parametrize("loss", ["mse_mean", "cross_entropy"])
@pytest.mark.parametrize("name,config", L2_CASES, ids=[c[0] for c in L2_CASES])
def test_online_l2_and_mse_mean_cuda_equal_cpu(name, config, loss):
    """L2 on the weights (the decay uses the weights before the step's update) and the mse_mean convention."""
    cpu = build_learner(config, torch.float64, 3, l2=0.3, loss=loss)
    gpu = build_learner(config, torch.float64, 3, l2=0.3, loss=loss).to(CUDA)
    start = {k: v.detach().clone() for k, v in cpu.named_parameters()}
    x, y = stream(30, 3)
    assert_rel(gpu.fit(x.to(CUDA), y.to(CUDA), chunk_size=13).cpu(), cpu.fit(x, y, chunk_size=13), 1e-9, f"{name}")
    compare_modules(gpu, cpu, config, start, 1e-9, f"{name} l2 {loss}")


LARGE = [c for c in ONLINE if c[0] in ("rtrl", "e_bptt", "f_bptt", "uoro", "kf_rtrl", "rkf_rtrl", "kernl", "dni_b")]


@pytest.mark.parametrize("name,config", LARGE, ids=[c[0] for c in LARGE])
def test_online_cuda_larger_network(name, config):
    """n = 200, B = 4 (RTRL: n = 40): the activity leaves shared memory (B (4 n + O) float64 values
    over 48 KiB) and every phase loops over more elements than the block has threads."""
    n = 40 if name == "rtrl" else 200
    cpu = build_learner(config, torch.float64, 4, I=5, n=n)
    gpu = build_learner(config, torch.float64, 4, I=5, n=n).to(CUDA)
    start = {k: v.detach().clone() for k, v in cpu.named_parameters()}
    x, y = stream(12, 4, I=5)
    assert_rel(gpu.fit(x.to(CUDA), y.to(CUDA)).cpu(), cpu.fit(x, y), 1e-9, f"{name} losses")
    compare_modules(gpu, cpu, config, start, 1e-9, f"{name} large")


@DTYPES
@pytest.mark.parametrize("name,config", SEQUENCE, ids=[c[0] for c in SEQUENCE])
def test_sequence_cuda_equals_cpu(name, config, dtype):
    grads = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(5)
        module = LocalRNN(3, 12, rule=config, alpha=0.6).to(dtype).to(device)
        g = torch.Generator().manual_seed(6)
        x = torch.randn(30, 4, 3, generator=g, dtype=torch.float64).to(dtype).to(device)
        weight = torch.randn(30, 4, 12, generator=g, dtype=torch.float64).to(dtype).to(device)
        h0 = (0.3 * torch.randn(1, 4, 12, generator=g, dtype=torch.float64)).to(dtype).to(device).requires_grad_()
        xr = x.clone().requires_grad_()
        out, _ = module(xr, h0)
        (out * weight).sum().backward()
        grads[device] = [out.detach(), xr.grad, h0.grad] + [p.grad for p in module.parameters()]
    for k, (g, c) in enumerate(zip(grads["cuda"], grads["cpu"])):
        assert g.device.type == "cuda"
        assert_rel(g.cpu(), c, TOLERANCE[dtype], f"{name} sequence result {k}")


def test_unknown_rule_on_cuda_lists_the_rules():
    """The rule name is checked against the registry before any backend's table (common/rule_descriptor.h)."""
    learner = build_learner(rules.RTRL(), torch.float64, 1).to(CUDA)
    x, y = stream(3, 1)
    hidden, w = learner.hidden, learner.rnn
    with pytest.raises(RuntimeError, match=r"online_learn: expected rule to be one of .*'rtrl'.*, but got 'nope'"):
        torch.ops.torch_local_rnn.online_learn(
            "nope", x.to(CUDA), y.to(CUDA), hidden, w.weight_hh_l0.detach(), w.weight_ih_l0.detach(), w.bias_ih_l0.detach(),
            learner.readout.weight.detach(), learner.readout.bias.detach(), [], None, None, 0.5, "tanh",
            "cross_entropy", 0.0, [], [])
