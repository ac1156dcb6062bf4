"""The online rule configs and learners that the tests of the GPU's kernels share: the CUDA-against-CPU tests
(tests/cuda/) and the GPU's per-element order run on the CPU (tests/rules/test_gpu_order.py). ONLINE holds the
defaults and every switch whose kernel path differs; a learner is built from seeds, a stream is inputs and
one-hot labels; a module is compared with its CPU twin."""
import torch

from helpers import assert_rel
from torch_local_rnn import LocalRNN, OnlineLearner, rules

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
def sequence_rule(config, alpha):
    """The LocalRNN's own (sequence-form) rule: the config where it has a sequence form at alpha, else bptt (the
    DNIs; UORO's forward difference). The online learner runs the config either way."""
    try:
        config.check(alpha, "sequence", "test")
        return config
    except ValueError:
        return "bptt"


def build_learner(config, dtype, batch, I=3, n=16, O=2, alpha=0.5, seed=0, readout=None, **learner_options):
    """readout: a factory (n, O) -> module, called after the seeding (default nn.Linear(n, O))."""
    torch.manual_seed(seed)
    rnn = LocalRNN(I, n, rule=sequence_rule(config, alpha), alpha=alpha).to(dtype)
    readout = (readout or torch.nn.Linear)(n, O).to(dtype)
    return OnlineLearner(rnn, readout, lr=0.05, rule=config, batch_size=batch,
                         generator=torch.Generator().manual_seed(seed + 1), **learner_options)


def stream(T, batch, I=3, O=2, dtype=torch.float64, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, batch, I, generator=g, dtype=torch.float64)
    labels = torch.randint(0, O, (T, batch), generator=g)
    return x.to(dtype), torch.nn.functional.one_hot(labels, O).to(dtype)


def compare_modules(gpu, cpu, config, start, tol, context, device="cuda"):
    """Buffers (carried state, learned auxiliaries) directly; parameters by what learning changed,
    since the weights move little per step. `gpu` must live on `device`."""
    for (name, g), (_, c) in zip(gpu.named_buffers(), cpu.named_buffers()):
        if g is None or not (g.is_floating_point()):
            continue
        assert g.device.type == device, f"{context} {name} on {g.device}"
        assert_rel(g.cpu(), c, tol, f"{context} buffer {name}")
    for (name, g), (_, c) in zip(gpu.named_parameters(), cpu.named_parameters()):
        before = start[name]
        # only the readout learns; bias_hh_l0 stays 0 under any rule (OnlineLearner folds it into bias_ih_l0)
        if (name.startswith("rnn.") and isinstance(config, rules.OutputOnly)) or name == "rnn.bias_hh_l0":
            assert torch.equal(g.detach().cpu(), before) and torch.equal(c.detach(), before), f"{context} {name} moved"
            continue
        assert (c - before).abs().max() > 0, f"{context} {name} did not learn"
        assert_rel(g.detach().cpu() - before, c.detach() - before, 10 * tol, f"{context} change of {name}")
