"""The persistent sequence kernel (docs/design.md §3.6) against the CPU kernels and against the stepwise CUDA
path, switched by TLR_CUDA_SEQUENCE: the forward and exact BPTT's backward at sizes that fill one warp tile,
many blocks and ragged tiles (hidden and batch sizes not multiples of the 4 x 8 warp tile), every nonlinearity,
under both exchanges (TLR_CUDA_SEQUENCE_EXCHANGE: thread-block clusters and flags, bit for bit alike); the
fallbacks where W_hh's tiles do not fit on chip or a stream group does not fit a cluster; the switches' errors.
Skipped without a GPU."""
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
# (T, B, I, n): one block; the papers' size; ragged tiles; several stream groups; many row blocks
# (row blocks per stream group: 1, 1, 3, 3 and 9, the last a cluster beyond the portable 8 blocks)
SIZES = [(6, 1, 2, 4), (9, 1, 2, 32), (7, 13, 3, 37), (5, 40, 3, 70), (4, 9, 5, 260)]
# How a step's outputs reach the other blocks of a stream group (kernels/sequence_exchange.cuh)
EXCHANGES = ["cluster", "flags"]


def on(device, p):
    return [p[k].to(device) for k in NET]


def forward(p, device, alpha, nonlinearity, path, monkeypatch, exchange="auto"):
    monkeypatch.setenv("TLR_CUDA_SEQUENCE", path)
    monkeypatch.setenv("TLR_CUDA_SEQUENCE_EXCHANGE", exchange)
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
    for exchange in EXCHANGES:
        results[exchange] = got = forward(p, CUDA, 0.4, nonlinearity, "persistent", monkeypatch, exchange)
        assert_same(got, want, ["output", "dphi"], dtype, f"persistent ({exchange}) vs cpu {nonlinearity} {size}")
        assert_same(got, stepwise, ["output", "dphi"], dtype, f"persistent ({exchange}) vs stepwise {size}")
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
    for path, exchange in [("stepwise", "auto")] + [("persistent", e) for e in EXCHANGES]:
        monkeypatch.setenv("TLR_CUDA_SEQUENCE", path)
        monkeypatch.setenv("TLR_CUDA_SEQUENCE_EXCHANGE", exchange)
        results[exchange] = ops.leaky_rnn_bptt_backward(*[t.to(CUDA) for t in inputs], alpha)
    for exchange in EXCHANGES:
        assert_same(results[exchange], want, GRADS, dtype, f"persistent ({exchange}) vs cpu {size} alpha={alpha}")
        assert_same(results[exchange], results["auto"], GRADS, dtype, f"persistent ({exchange}) vs stepwise {size}")
    assert_bitwise(results["cluster"], results["flags"], GRADS, f"cluster vs flags {size} alpha={alpha}")


@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_module_training_step_on_the_persistent_path(rule, monkeypatch):
    """LocalRNN's forward + backward (autograd through the ops) on the persistent path equals the CPU module."""
    monkeypatch.setenv("TLR_CUDA_SEQUENCE", "persistent")
    torch.manual_seed(0)
    cpu = LocalRNN(5, 48, rule=rule, alpha=0.5, dtype=torch.float64)
    gpu = LocalRNN(5, 48, rule=rule, alpha=0.5, dtype=torch.float64)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to(CUDA)
    x = torch.randn(30, 11, 5, dtype=torch.float64)
    for module, inp in ((cpu, x), (gpu, x.to(CUDA))):
        out, h = module(inp)
        (out.pow(2).sum() + h.sum()).backward()
    for (name, a), (_, b) in zip(cpu.named_parameters(), gpu.named_parameters()):
        assert_rel(b.grad.cpu(), a.grad, 1e-9, f"{rule} {name}.grad")


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_persistent_runs_repeatedly_and_deterministically(exchange, monkeypatch):
    """Flags are fresh per call, the double-buffered stream tiles of a cluster hold no step's values into the
    next call, and the reduction order is fixed: the same call gives bitwise the same result, over 50 steps."""
    p = problem(T=50, B=20, I=3, n=96, seed=13, dtype=torch.float32)
    first = forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, exchange)
    for _ in range(3):
        again = forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, exchange)
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
    so auto exchanges through flags (same results as the CPU) and cluster alone is refused, naming clusters."""
    p = problem(T=4, B=5, I=2, n=600, seed=16, dtype=torch.float32)
    want = ops.leaky_rnn_forward(*on("cpu", p), 0.5, "tanh")
    got = forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "auto")
    assert_same(got, want, ["output", "dphi"], torch.float32, "auto exchange")
    assert_bitwise(got, forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "flags"), ["output", "dphi"],
                   "auto vs flags")
    with pytest.raises(RuntimeError, match="TLR_CUDA_SEQUENCE=persistent.*hidden_size = 600.*thread-block cluster"):
        forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "cluster")


def test_bad_exchange_value_is_an_error_naming_it(monkeypatch):
    p = problem(T=2, B=1, I=2, n=4, seed=15)
    with pytest.raises(RuntimeError, match="TLR_CUDA_SEQUENCE_EXCHANGE.*'auto', 'cluster' or 'flags'.*'dsmem'"):
        forward(p, CUDA, 0.5, "tanh", "persistent", monkeypatch, "dsmem")


def test_bad_switch_value_is_an_error_naming_it(monkeypatch):
    p = problem(T=2, B=1, I=2, n=4, seed=15)
    with pytest.raises(RuntimeError, match="TLR_CUDA_SEQUENCE.*'auto', 'persistent' or 'stepwise'.*'fast'"):
        forward(p, CUDA, 0.5, "tanh", "fast", monkeypatch)
