"""Every online rule's step in the GPU's order, on the CPU: under TLR_CPU_ONLINE_ORDER=gpu the CPU op runs its
float64 step by the GPU's one-block (and member) policy over a team of 64 threads, each rank's share in turn
(csrc/cpu/team_exec_emulation.h: the loops the GPU's threads run, which elements each owns, the staged trace
loops, the forward's rotated rows, the warp sums), under =grid by the grid kernel's policy over two blocks (64-bit
indices, the forward by tiles), each in the build the GPU launches for the call (without the options' paths where
the call has none). So each rule's code as the GPU partitions it, including the
paths a GPU has not run yet (mse_mean, L2, DNI 2019, KeRNL's 2019 variants, the fused optimisers), is checked
against the CPU's order where there is no GPU, with the CUDA suite's configs (tests/online_configs.py): the same
learner built twice from the same seeds, one fitted under each order, must give the same losses, carried state
and weights (float64, 1e-10 relative: only the order of the sums differs)."""
import pytest
import torch
from torch import nn

from helpers import assert_rel
from online_configs import ONLINE, build_learner, compare_modules, stream
from torch_local_rnn import rules

TOL = 1e-10
ORDER = "TLR_CPU_ONLINE_ORDER"


ORDERS = pytest.mark.parametrize("order", ["gpu", "grid"])


def fit_both(monkeypatch, order, make, x, y, **fit):
    """make() twice; the first fitted in the GPU's order `order`, the second in the CPU's: (gpu, cpu, their
    results)."""
    gpu, cpu = make(), make()
    monkeypatch.setenv(ORDER, order)
    got = gpu.fit(x, y, **fit)
    monkeypatch.setenv(ORDER, "cpu")
    return gpu, cpu, got, cpu.fit(x, y, **fit)


@ORDERS
@pytest.mark.parametrize("batch", [1, 3, 10])
@pytest.mark.parametrize("name,config", ONLINE, ids=[c[0] for c in ONLINE])
def test_online_gpu_order_equals_cpu_order(monkeypatch, name, config, batch, order):
    record = config.name in ("dni", "dni_b")
    gpu, cpu, got, want = fit_both(monkeypatch, order, lambda: build_learner(config, torch.float64, batch),
                                   *stream(45, batch), chunk_size=20, record=record)
    start = {k: v.detach().clone() for k, v in build_learner(config, torch.float64, batch).named_parameters()}
    if record:
        (got, got_signals), (want, signals) = got, want
        for key in signals:
            assert_rel(got_signals[key], signals[key], TOL, f"{name} record {key}")
    assert_rel(got, want, TOL, f"{name} losses")
    compare_modules(gpu, cpu, config, start, TOL, f"{name} B={batch} {order} order", device="cpu")


L2_CASES = [c for c in ONLINE if c[0] in ("rtrl", "e_bptt", "uoro", "kernl", "kernl-2019-exact", "dni_b-2019")]
L2_CASES.append(("rflo", rules.RFLO()))


@ORDERS
@pytest.mark.parametrize("loss", ["mse_mean", "cross_entropy"])
@pytest.mark.parametrize("name,config", L2_CASES, ids=[c[0] for c in L2_CASES])
def test_l2_and_mse_mean_in_gpu_order(monkeypatch, name, config, loss, order):
    make = lambda: build_learner(config, torch.float64, 3, l2=0.3, loss=loss)  # noqa: E731
    gpu, cpu, got, want = fit_both(monkeypatch, order, make, *stream(30, 3), chunk_size=13)
    assert_rel(got, want, TOL, f"{name} {loss} losses")
    compare_modules(gpu, cpu, config, dict(make().named_parameters()), TOL, f"{name} l2 {loss} {order}",
                    device="cpu")


OPTION_RULES = [rules.RFLO(), rules.RTRL(), rules.EBPTT(window=3), rules.UORO(), rules.KeRNL(), rules.DNIb()]


def cross_entropy(z, y):
    return -(y * torch.log_softmax(z, -1)).sum(-1)


# The DNIs read the labels as the readout's outputs, so they take the fused path only (no "general").
OPTION_CASES = [(rule, options) for rule in OPTION_RULES for options in ("adam+l2", "momentum", "schedule", "general")
                if not (options == "general" and rule.name == "dni_b")]


@ORDERS
@pytest.mark.parametrize("rule,options", OPTION_CASES, ids=[f"{r.name}-{o}" for r, o in OPTION_CASES])
def test_options_in_gpu_order(monkeypatch, rule, options, order):
    """The fused optimisers with L2, a learning-rate schedule, and the general path's credit mode (a two-layer
    readout, a loss function)."""
    kwargs, fit = {}, {}
    if options == "adam+l2":
        kwargs = dict(optimizer="adam", l2=1e-2)
    elif options == "momentum":
        kwargs = dict(optimizer="momentum")
    elif options == "general":
        kwargs = dict(readout=lambda n, O: nn.Sequential(nn.Linear(n, 5), nn.Tanh(), nn.Linear(5, O)),
                      loss=cross_entropy, optimizer="adam")
    x, y = stream(25, 3)
    if options == "schedule":
        fit = dict(lr_schedule=torch.linspace(0.05, 0.0, x.shape[0], dtype=torch.float64))
    gpu, cpu, got, want = fit_both(monkeypatch, order, lambda: build_learner(rule, torch.float64, 3, n=12, **kwargs),
                                   x, y, **fit)
    assert_rel(got, want, TOL, f"{rule.name} {options} losses")
    for (key, g), (_, c) in zip(gpu.state_dict().items(), cpu.state_dict().items()):
        if torch.is_tensor(g) and g.is_floating_point():
            assert_rel(g, c, TOL, f"{rule.name} {options} {key}")


@pytest.mark.parametrize("name,config", [c for c in ONLINE if c[0] in ("rtrl", "kf_rtrl", "kernl", "dni_b")],
                         ids=["rtrl", "kf_rtrl", "kernl", "dni_b"])
@ORDERS
def test_gpu_order_where_the_team_wraps_many_times(monkeypatch, name, config, order):
    """n = 70 (RTRL: 20), B = 4: every phase has many more elements than the team's 64 threads, most more than
    the grid's 512; the grid's forward spans two tiles of 32 units and a part of a third."""
    n = 20 if name == "rtrl" else 70
    make = lambda: build_learner(config, torch.float64, 4, I=5, n=n)  # noqa: E731
    gpu, cpu, got, want = fit_both(monkeypatch, order, make, *stream(8, 4, I=5))
    assert_rel(got, want, TOL, f"{name} losses")
    compare_modules(gpu, cpu, config, dict(make().named_parameters()), TOL, f"{name} large {order}", device="cpu")


@ORDERS
def test_the_gpu_order_is_another_order(monkeypatch, order):
    """The switch takes effect: RFLO's losses agree to rounding but not in every bit (the GPU's forward sums a row
    in another order), so the tests above compare two different runs."""
    _, _, got, want = fit_both(monkeypatch, order, lambda: build_learner(rules.RFLO(), torch.float64, 3),
                               *stream(20, 3))
    assert_rel(got, want, TOL, "rflo losses")
    assert not torch.equal(got, want)


@ORDERS
def test_gpu_order_errors(monkeypatch, order):
    learner = build_learner(rules.RFLO(), torch.float32, 1)
    x, y = stream(4, 1, dtype=torch.float32)
    monkeypatch.setenv(ORDER, order)
    with pytest.raises(RuntimeError, match=rf"TLR_CPU_ONLINE_ORDER={order} runs float64 only, but got x of dtype "
                                           r"Float"):
        learner.fit(x, y)
    monkeypatch.setenv(ORDER, "warp")
    with pytest.raises(RuntimeError, match=r"expected the environment variable TLR_CPU_ONLINE_ORDER to be 'cpu', 'gpu' "
                                           r"or 'grid' \(unset: 'cpu'\), but got 'warp'"):
        build_learner(rules.RFLO(), torch.float64, 1).fit(*stream(4, 1))
