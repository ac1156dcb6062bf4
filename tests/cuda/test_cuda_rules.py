"""Every learning rule's CUDA kernels against its CPU kernels (themselves tested against
torch_local_rnn.reference): the same learner or module, built twice from the same seeds, one copy
moved to the GPU, must give the same losses, weights, carried state and gradients (float64 to
~1e-10 relative, float32 to ~1e-4). The noise of the stochastic rules is drawn on the CPU from the
learner's own generator, so both devices see the same draws. Skipped where there is no GPU or the
library was built without CUDA."""
import pytest
import torch

import torch_local_rnn
from helpers import assert_rel
from torch_local_rnn import LocalRNN, OnlineLearner, rules

pytestmark = pytest.mark.skipif(not torch.cuda.is_available() or not torch_local_rnn.has_cuda_kernels(),
                                reason="needs a GPU and a CUDA build of torch_local_rnn")

CUDA = torch.device("cuda")
TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-4}

# (id, config): the defaults and every switch whose kernel path differs.
ONLINE = [
    ("output_only", rules.OutputOnly()),
    ("rtrl", rules.RTRL()),
    ("rtrl-legacy", rules.RTRL(legacy_alpha_omission=True)),
    ("f_bptt", rules.FBPTT(truncation=5)),
    ("f_bptt-legacy", rules.FBPTT(truncation=3, legacy_alpha_omission=True)),
    ("e_bptt", rules.EBPTT(window=4)),
    ("e_bptt-legacy", rules.EBPTT(window=7, legacy_alpha_omission=True)),
    ("uoro", rules.UORO()),
    ("uoro-gaussian-epsilon", rules.UORO(noise_kind="gaussian", epsilon=1e-2)),
    ("uoro-rho", rules.UORO(noise_kind="uniform", rho0=1.0, rho1=1.0, legacy_alpha_omission=True)),
    ("kf_rtrl", rules.KFRTRL()),
    ("kf_rtrl-gaussian", rules.KFRTRL(noise_kind="gaussian", legacy_alpha_omission=True)),
    ("rkf_rtrl", rules.RKFRTRL()),
    ("rkf_rtrl-rho", rules.RKFRTRL(rho0=1.0, rho1=1.0)),
    ("kernl", rules.KeRNL()),
    ("kernl-reset", rules.KeRNL(sigma=1e-4, lr=1.0, reset_interval=7)),
    ("kernl-2019-exact", rules.KeRNL(sigma=1e-3, version="2019-exact", learned_alpha_e=True)),
    ("kernl-2019-approx", rules.KeRNL(sigma=1e-3, version="2019-approx")),
    ("dni", rules.DNI()),
    ("dni-switches", rules.DNI(approximate_jacobian=True, tanh_target=True, alpha_e=0.3, sg_l2=1e-3,
                               fix_interval=3, feedback="random")),
    ("dni_b", rules.DNIb()),
    ("dni_b-exact", rules.DNIb(approximate_jacobian=False, tanh_target=False, alpha_e=0.5)),
    ("dni_b-2019", rules.DNIb(version=2019, lr_j=0.05)),
]
# The forward-difference UORO (epsilon) and the DNIs have no sequence form.
SEQUENCE = [(name, cfg) for name, cfg in ONLINE if cfg.name not in ("dni", "dni_b") and "epsilon" not in name]
DTYPES = pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])


def build_learner(config, dtype, batch, I=3, n=16, O=2, alpha=0.5, seed=0, **learner_options):
    torch.manual_seed(seed)
    rnn = LocalRNN(I, n, rule=config if config.has_sequence_form else "bptt", alpha=alpha).to(dtype)
    readout = torch.nn.Linear(n, O).to(dtype)
    return OnlineLearner(rnn, readout, lr=0.05, rule=config, batch_size=batch,
                         generator=torch.Generator().manual_seed(seed + 1), **learner_options)


def stream(T, batch, I=3, O=2, dtype=torch.float64, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, batch, I, generator=g, dtype=torch.float64)
    labels = torch.randint(0, O, (T, batch), generator=g)
    return x.to(dtype), torch.nn.functional.one_hot(labels, O).to(dtype)


def compare_modules(gpu, cpu, config, start, tol, context):
    """Buffers (carried state, learned auxiliaries) directly; parameters by what learning changed,
    since the weights move little per step."""
    for (name, g), (_, c) in zip(gpu.named_buffers(), cpu.named_buffers()):
        if g is None or not (g.is_floating_point()):
            continue
        assert g.device.type == "cuda", f"{context} {name} on {g.device}"
        assert_rel(g.cpu(), c, tol, f"{context} buffer {name}")
    for (name, g), (_, c) in zip(gpu.named_parameters(), cpu.named_parameters()):
        before = start[name]
        if name.startswith("rnn.") and isinstance(config, rules.OutputOnly):  # only the readout learns
            assert torch.equal(g.detach().cpu(), before) and torch.equal(c.detach(), before), f"{context} {name} moved"
            continue
        assert (c - before).abs().max() > 0, f"{context} {name} did not learn"
        assert_rel(g.detach().cpu() - before, c.detach() - before, 10 * tol, f"{context} change of {name}")


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


def test_unknown_rule_on_cuda_lists_the_cuda_rules():
    learner = build_learner(rules.RTRL(), torch.float64, 1).to(CUDA)
    x, y = stream(3, 1)
    hidden, w = learner.hidden, learner.rnn
    with pytest.raises(RuntimeError, match=r"expected rule to be one of .*'rtrl'.* \(CUDA\), but got 'nope'"):
        torch.ops.torch_local_rnn.online_learn(
            "nope", x.to(CUDA), y.to(CUDA), hidden, w.weight_hh_l0.detach(), w.weight_ih_l0.detach(), w.bias_ih_l0.detach(),
            learner.readout.weight.detach(), learner.readout.bias.detach(), [], None, None, 0.5, "tanh",
            "cross_entropy", 0.0, [], [])
