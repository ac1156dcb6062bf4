"""The persistent sequence kernels (docs/design.md §3.6) against the CPU kernels and against the stepwise CUDA
path, switched by TLR_CUDA_SEQUENCE: the forward and exact BPTT's backward at sizes that fill one warp tile,
many blocks and ragged tiles (hidden and batch sizes not multiples of the 4 x 8 warp tile), every nonlinearity,
under every persistent kernel (TLR_CUDA_PERSISTENT: a warp per stream up to 32 units; the tiled kernel with
thread-block clusters or flags, bit for bit alike); the fallbacks where W_hh's tiles do not fit on chip or a
stream group does not fit a cluster; the switches' errors. Skipped without a GPU."""
import pytest
import torch

import torch_local_rnn
from helpers import assert_rel, problem
from torch_local_rnn import LocalRNN, ops

pytestmark = pytest.mark.skipif(not torch.cuda.is_available() or not torch_local_rnn.has_cuda_kernels(),
                                reason="needs a GPU and a CUDA build of torch_local_rnn")

CUDA = torch.device("cuda")
TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-4}
DTYPES = pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
NET = ["x", "h0", "weight_hh", "weight_ih", "bias"]
GRADS = ["grad_x", "grad_h0", "grad_weight_hh", "grad_weight_ih", "grad_bias"]
# (T, B, I, n): one block; the papers' size; warps in three blocks, the last part-filled, T past the warp
# kernel's 8 steps of prefetch and not a multiple of them; ragged tiles; several stream groups; many row blocks
# (the tiled kernel's row blocks per stream group: 1, 1, 1, 3, 3 and 9, the last a cluster beyond the portable 8)
SIZES = [(6, 1, 2, 4), (9, 1, 2, 32), (21, 9, 3, 17), (7, 13, 3, 37), (5, 40, 3, 70), (4, 9, 5, 260)]
# The tiled kernel's two exchanges (common/sequence_exchange.h) give the same bits.
EXCHANGES = ["cluster", "flags"]


def kernels_for(n):
    """The persistent kernels that run n units: the warp kernel (kernels/sequence_warp.cuh) up to 32."""
    return (["warp"] if n <= 32 else []) + EXCHANGES


def on(device, p):
    return [p[k].to(device) for k in NET]


def forward(p, device, alpha, nonlinearity, path, monkeypatch, kernel="auto"):
    monkeypatch.setenv("TLR_CUDA_SEQUENCE", path)
    monkeypatch.setenv("TLR_CUDA_PERSISTENT", kernel)
    return ops.leaky_rnn_forward(*on(device, p), alpha, nonlinearity)


def assert_same(got, want, names, dtype, context):
    for g, w, name in zip(got, want, names):
        assert g.device.type == "cuda", f"{context} {name}: on {g.device}"
        assert_rel(g.cpu(), w.cpu(), TOLERANCE[dtype], f"{context} {name}")


def assert_bitwise(got, want, names, context):
    """The two exchanges hand the same values to the same products in the same order: the same bits."""
    for g, w, name in zip(got, want, names):
        assert torch.equal(g, w), f"{context} {name}: differs in {(g != w).sum().item()} entries"


@DTYPES
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("size", SIZES, ids=[f"T{t}B{b}I{i}n{n}" for t, b, i, n in SIZES])
def test_forward_persistent_equals_cpu_and_stepwise(dtype, nonlinearity, size, monkeypatch):
    T, B, I, n = size
    p = problem(T=T, B=B, I=I, n=n, seed=11, dtype=dtype)
    want = ops.leaky_rnn_forward(*on("cpu", p), 0.4, nonlinearity)
    stepwise = forward(p, CUDA, 0.4, nonlinearity, "stepwise", monkeypatch)
    results = {}
    for kernel in kernels_for(n):
        results[kernel] = got = forward(p, CUDA, 0.4, nonlinearity, "persistent", monkeypatch, kernel)
        assert_same(got, want, ["output", "dphi"], dtype, f"persistent ({kernel}) vs cpu {nonlinearity} {size}")
        assert_same(got, stepwise, ["output", "dphi"], dtype, f"persistent ({kernel}) vs stepwise {size}")
    assert_bitwise(results["cluster"], results["flags"], ["output", "dphi"], f"cluster vs flags {size}")


@DTYPES
@pytest.mark.parametrize("alpha", [1.0, 0.3])
@pytest.mark.parametrize("size", SIZES + [(1, 3, 2, 20)], ids=[f"T{t}B{b}I{i}n{n}" for t, b, i, n in SIZES + [(1, 3, 2, 20)]])
def test_bptt_backward_persistent_equals_cpu_and_stepwise(dtype, alpha, size, monkeypatch):
    T, B, I, n = size
    p = problem(T=T, B=B, I=I, n=n, seed=12, dtype=dtype)
    output, dphi = ops.leaky_rnn_forward(*on("cpu", p), alpha, "tanh")
    inputs = [p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], output, dphi]
    want = ops.leaky_rnn_bptt_backward(*inputs, alpha)
    results = {}
    for path, kernel in [("stepwise", "auto")] + [("persistent", k) for k in kernels_for(n)]:
        monkeypatch.setenv("TLR_CUDA_SEQUENCE", path)
        monkeypatch.setenv("TLR_CUDA_PERSISTENT", kernel)
        results[kernel] = ops.leaky_rnn_bptt_backward(*[t.to(CUDA) for t in inputs], alpha)
    for kernel in kernels_for(n):
        assert_same(results[kernel], want, GRADS, dtype, f"persistent ({kernel}) vs cpu {size} alpha={alpha}")
        assert_same(results[kernel], results["auto"], GRADS, dtype, f"persistent ({kernel}) vs stepwise {size}")
    assert_bitwise(results["cluster"], results["flags"], GRADS, f"cluster vs flags {size} alpha={alpha}")


@pytest.mark.parametrize("hidden", [32, 48], ids=["warp", "tiled"])
@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_module_training_step_on_the_persistent_path(rule, hidden, monkeypatch):
    """LocalRNN's forward + backward (autograd through the ops) on the persistent path equals the CPU module."""
    monkeypatch.setenv("TLR_CUDA_SEQUENCE", "persistent")
    torch.manual_seed(0)
    cpu = LocalRNN(5, hidden, rule=rule, alpha=0.5, dtype=torch.float64)
    gpu = LocalRNN(5, hidden, rule=rule, alpha=0.5, dtype=torch.float64)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to(CUDA)
    x = torch.randn(30, 11, 5, dtype=torch.float64)
    for module, inp in ((cpu, x), (gpu, x.to(CUDA))):
        out, h = module(inp)
        (out.pow(2).sum() + h.sum()).backward()
    for (name, a), (_, b) in zip(cpu.named_parameters(), gpu.named_parameters()):
        assert_rel(b.grad.cpu(), a.grad, 1e-9, f"{rule} {name}.grad")


@pytest.mark.parametrize("kernel, n", [("warp", 32), ("cluster", 96), ("flags", 96)])
def test_persistent_runs_repeatedly_and_deterministically(kernel, n, monkeypatch):
    """Flags are fresh per call, neither a cluster's double-buffered stream tiles nor the warp kernel's registers
    hold a step's values into the next call, and the reduction order is fixed: the same call gives bitwise the
    same result, over 50 steps."""
    p = problem(T=50, B=20, I=3, n=n, seed=13, dtype=torch.float32)
    first = forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, kernel)
    for _ in range(3):
        again = forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, kernel)
        for a, b in zip(first, again):
            assert torch.equal(a, b)


def test_auto_falls_back_where_the_tiles_do_not_fit(monkeypatch):
    """float64 at n = 1000: no block shape's W_hh tile plus stream tile fits in 227 KiB, so auto takes the
    stepwise path (same results as the CPU) and persistent is refused with an error naming the switch."""
    p = problem(T=3, B=2, I=2, n=1000, seed=14, dtype=torch.float64)
    want = ops.leaky_rnn_forward(*on("cpu", p), 0.5, "tanh")
    assert_same(forward(p, CUDA, 0.5, "tanh", "auto", monkeypatch), want, ["output", "dphi"], torch.float64, "auto")
    with pytest.raises(RuntimeError, match="TLR_CUDA_SEQUENCE=persistent.*hidden_size = 1000"):
        forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch)


def test_auto_exchanges_through_flags_where_a_group_does_not_fit_a_cluster(monkeypatch):
    """float32 at n = 600: every block shape needs at least 19 row blocks a stream group, beyond a cluster's 16,
    so auto exchanges through flags (same results as the CPU), and cluster or warp alone is refused, naming the
    reason."""
    p = problem(T=4, B=5, I=2, n=600, seed=16, dtype=torch.float32)
    want = ops.leaky_rnn_forward(*on("cpu", p), 0.5, "tanh")
    got = forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "auto")
    assert_same(got, want, ["output", "dphi"], torch.float32, "auto")
    assert_bitwise(got, forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "flags"), ["output", "dphi"],
                   "auto vs flags")
    with pytest.raises(RuntimeError, match="TLR_CUDA_SEQUENCE=persistent.*hidden_size = 600.*thread-block cluster"):
        forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "cluster")
    with pytest.raises(RuntimeError, match="TLR_CUDA_SEQUENCE=persistent.*hidden_size = 600.*at most 32 units"):
        forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "warp")


def test_auto_takes_the_warp_kernel_up_to_32_units(monkeypatch):
    """At n = 32 auto runs the warp kernel: its bits, not the tiled kernel's (their sums differ in order)."""
    p = problem(T=40, B=3, I=2, n=32, seed=17, dtype=torch.float32)
    auto = forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "auto")
    warp = forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "warp")
    tiled = forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "cluster")
    assert_bitwise(auto, warp, ["output", "dphi"], "auto vs warp")
    assert not torch.equal(auto[0], tiled[0]), "auto gave the tiled kernel's bits at n = 32"


def test_bad_kernel_value_is_an_error_naming_it(monkeypatch):
    p = problem(T=2, B=1, I=2, n=4, seed=15)
    with pytest.raises(RuntimeError, match="TLR_CUDA_PERSISTENT.*'auto', 'warp', 'cluster' or 'flags'.*'dsmem'"):
        forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "dsmem")


def test_bad_switch_value_is_an_error_naming_it(monkeypatch):
    p = problem(T=2, B=1, I=2, n=4, seed=15)
    with pytest.raises(RuntimeError, match="TLR_CUDA_SEQUENCE.*'auto', 'persistent' or 'stepwise'.*'fast'"):
        forward(p, CUDA, 0.5, "tanh", "fast", monkeypatch)
