"""The CUDA kernels against the CPU kernels (themselves tested against torch_local_rnn.reference):
the same inputs on both devices must give the same results, float64 to ~1e-10 and float32 to
~1e-4 (relative). Skipped where there is no GPU or the library was built without CUDA."""
import pytest
import torch

import torch_local_rnn
from helpers import DT, TOL, assert_rel, generator, network, one_hot_targets, problem, randn, soft_targets, transposed
from torch_local_rnn import ops

pytestmark = pytest.mark.skipif(not torch.cuda.is_available() or not torch_local_rnn.has_cuda_kernels(),
                                reason="needs a GPU and a CUDA build of torch_local_rnn")

CUDA = torch.device("cuda")
TOLERANCE = {torch.float64: TOL, torch.float32: 1e-4}
GRADS = ["grad_x", "grad_h0", "grad_weight_hh", "grad_weight_ih", "grad_bias"]
NET = ["x", "h0", "weight_hh", "weight_ih", "bias"]
DTYPES = pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])


def cuda(tensors):
    return [t.to(CUDA) for t in tensors]


def assert_same(got_cuda, want_cpu, names, dtype, context=""):
    for g, w, name in zip(got_cuda, want_cpu, names):
        assert g.device.type == "cuda", f"{context} {name}: result on {g.device}"
        assert g.dtype == w.dtype, f"{context} {name}: dtype {g.dtype} != {w.dtype}"
        assert_rel(g.cpu(), w, TOLERANCE[dtype], f"{context} {name}")


def net_args(p):
    return [p[k] for k in NET]


@DTYPES
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("alpha", [1.0, 0.3])
@pytest.mark.parametrize("B", [1, 5])
def test_forward(dtype, nonlinearity, alpha, B):
    p = problem(T=17, B=B, I=3, n=33, seed=1, dtype=dtype)
    want = ops.leaky_rnn_forward(*net_args(p), alpha, nonlinearity)
    got = ops.leaky_rnn_forward(*cuda(net_args(p)), alpha, nonlinearity)
    assert_same(got, want, ["output", "dphi"], dtype, f"{nonlinearity} alpha={alpha} B={B}")


def test_forward_noncontiguous_inputs():
    p = problem(T=9, B=4, I=3, n=16, seed=2)
    want = ops.leaky_rnn_forward(*net_args(p), 0.5, "tanh")
    args = [transposed(t.to(CUDA)) if t.dim() >= 2 else t.to(CUDA) for t in net_args(p)]
    assert not args[2].is_contiguous()
    assert_same(ops.leaky_rnn_forward(*args, 0.5, "tanh"), want, ["output", "dphi"], DT)


def backward_inputs(p, alpha, nonlinearity="tanh"):
    """CPU (grad_output, x, h0, W_hh, W_ih, output, dphi): the backward ops see the same forward."""
    output, dphi = ops.leaky_rnn_forward(*net_args(p), alpha, nonlinearity)
    return [p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], output, dphi]


@DTYPES
@pytest.mark.parametrize("alpha", [1.0, 0.4])
@pytest.mark.parametrize("T", [1, 2, 23])
def test_bptt_backward(dtype, alpha, T):
    inputs = backward_inputs(problem(T=T, B=3, I=4, n=20, seed=3, dtype=dtype), alpha)
    want = ops.leaky_rnn_bptt_backward(*inputs, alpha)
    got = ops.leaky_rnn_bptt_backward(*cuda(inputs), alpha)
    assert_same(got, want, GRADS, dtype, f"bptt T={T} alpha={alpha}")


@DTYPES
@pytest.mark.parametrize("alpha,trace_alpha", [(1.0, 1.0), (0.5, 0.5), (0.5, 0.2)])
@pytest.mark.parametrize("T", [1, 23])
def test_rflo_backward(dtype, alpha, trace_alpha, T):
    inputs = backward_inputs(problem(T=T, B=3, I=4, n=20, seed=4, dtype=dtype), alpha, "sigmoid")
    want = ops.leaky_rnn_rflo_backward(*inputs, alpha, trace_alpha)
    got = ops.leaky_rnn_rflo_backward(*cuda(inputs), alpha, trace_alpha)
    assert_same(got, want, GRADS, dtype, f"rflo T={T} alpha={alpha} k={trace_alpha}")


def test_backward_noncontiguous_inputs():
    inputs = backward_inputs(problem(T=6, B=3, I=4, n=8, seed=15), 0.5)
    strided_inputs = [transposed(t.to(CUDA)) for t in inputs]
    assert not any(t.is_contiguous() for t in strided_inputs)
    assert_same(ops.leaky_rnn_bptt_backward(*strided_inputs, 0.5), ops.leaky_rnn_bptt_backward(*inputs, 0.5),
                 GRADS, DT, "bptt")
    assert_same(ops.leaky_rnn_rflo_backward(*strided_inputs, 0.5, 0.3),
                ops.leaky_rnn_rflo_backward(*inputs, 0.5, 0.3), GRADS, DT, "rflo")


@pytest.mark.parametrize("op_name", ["bptt", "rflo"])
def test_backward_does_not_read_uninitialised_memory(op_name):
    """The caching allocator hands back freed blocks: poison them with NaN, results must not change."""
    T, B, n = 4, 3, 32
    inputs = cuda(backward_inputs(problem(T=T, B=B, I=2, n=n, seed=5), 0.5))

    def run():
        if op_name == "bptt":
            return ops.leaky_rnn_bptt_backward(*inputs, 0.5)
        return ops.leaky_rnn_rflo_backward(*inputs, 0.5, 0.3)

    clean = run()
    for _ in range(3):
        junk = [torch.full((size,), float("nan"), dtype=DT, device=CUDA)
                for size in (B * n, T * B * n) for _ in range(4)]
        del junk
        got = run()
        for g, c, name in zip(got, clean, GRADS):
            assert torch.equal(g, c), f"{op_name}: {name} depends on uninitialised memory"


@DTYPES
@pytest.mark.parametrize("rule,options", [("bptt", []), ("rflo", []), ("rflo", [0.25])])
def test_leaky_rnn_autograd(dtype, rule, options):
    p = problem(T=12, B=2, I=3, n=10, seed=6, dtype=dtype)
    grads = {}
    for device in ("cpu", "cuda"):
        leaves = [t.to(device).detach().requires_grad_(True) for t in net_args(p)]
        out = ops.leaky_rnn(*leaves, alpha=0.5, nonlinearity="tanh", rule=rule, rule_options=options)
        (out * p["grad_output"].to(device)).sum().backward()
        grads[device] = [out.detach()] + [t.grad for t in leaves]
    assert_same(grads["cuda"], grads["cpu"], ["output"] + GRADS, dtype, f"leaky_rnn {rule} {options}")


def test_leaky_rnn_no_grad_and_current_stream():
    """The no-grad path dispatches to CUDA too, and the ops run on the caller's current stream."""
    p = problem(T=8, B=2, I=3, n=12, seed=7)
    want = ops.leaky_rnn(*net_args(p), alpha=0.5)
    args = cuda(net_args(p))
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.no_grad(), torch.cuda.stream(stream):
        got = ops.leaky_rnn(*args, alpha=0.5)
        got_rflo = ops.leaky_rnn(*args, alpha=0.5, rule="rflo")
    torch.cuda.current_stream().wait_stream(stream)
    assert_same([got, got_rflo], [want, want], ["bptt output", "rflo output"], DT)


STATE = ["hidden", "trace", "weight_hh", "weight_ih", "bias", "weight_out", "bias_out"]


def online_problem(T, B, I, n, O, loss, seed, dtype, feedback):
    W, U, b = network(n, I, seed, dtype)
    g = generator(seed + 500)
    if loss != "cross_entropy":
        y = randn(T, B, O, gen=g, dtype=dtype)
    else:
        y = (one_hot_targets if seed % 2 else soft_targets)(T, B, O, g, dtype)
    state = [randn(B, n, gen=g, scale=0.3, dtype=dtype), randn(B, n, n + I + 1, gen=g, scale=0.1, dtype=dtype),
             W, U, b, randn(O, n, gen=g, scale=n ** -0.5, dtype=dtype), randn(O, gen=g, scale=0.1, dtype=dtype)]
    fb = randn(O, n, gen=g, scale=O ** -0.5, dtype=dtype) if feedback else None
    return randn(T, B, I, gen=g, dtype=dtype), y, state, fb


def run_online_both(x, y, state, fb, pieces, **kw):
    """Runs rflo_online on CPU and CUDA copies, split into `pieces` calls (state carried between
    calls); returns the (losses, state, initial state) of each device."""
    results = {}
    for device in ("cpu", "cuda"):
        st = [s.clone().to(device) for s in state]
        f = None if fb is None else fb.to(device)
        bounds = torch.linspace(0, x.shape[0], pieces + 1).long().tolist()
        losses = [ops.rflo_online(x[a:b].to(device), y[a:b].to(device), *st, f, **kw)
                  for a, b in zip(bounds[:-1], bounds[1:])]
        results[device] = torch.cat(losses), st
    return results


@DTYPES
@pytest.mark.parametrize("feedback", [False, True], ids=["symmetric", "fixed"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "mse_mean"])
@pytest.mark.parametrize("B", [1, 3])
def test_rflo_online(dtype, feedback, loss, B):
    T, I, n, O = 40, 3, 32, 2
    x, y, state, fb = online_problem(T, B, I, n, O, loss, seed=8 + B, dtype=dtype, feedback=feedback)
    res = run_online_both(x, y, state, fb, pieces=2, alpha=0.5, trace_alpha=0.3, loss=loss, lr=0.05)
    (l_gpu, s_gpu), (l_cpu, s_cpu) = res["cuda"], res["cpu"]
    context = f"B={B} {loss} feedback={feedback}"
    assert_same([l_gpu], [l_cpu], ["losses"], dtype, context)
    assert_same(s_gpu[:2], s_cpu[:2], STATE[:2], dtype, context)
    # The weights move little per step: compare what learning changed, not the weights themselves.
    for g, c, before, name in zip(s_gpu[2:], s_cpu[2:], state[2:], STATE[2:]):
        assert (c - before).abs().max() > 0, f"{context} {name} did not learn"
        assert_rel(g.cpu() - before, c - before, 10 * TOLERANCE[dtype], f"{context} change of {name}")


@pytest.mark.parametrize("nonlinearity", ["relu", "sigmoid"])
def test_rflo_online_other_nonlinearities(nonlinearity):
    x, y, state, fb = online_problem(30, 2, 2, 9, 3, "cross_entropy", seed=12, dtype=DT, feedback=False)
    res = run_online_both(x, y, state, fb, pieces=1, alpha=0.7, trace_alpha=0.7, nonlinearity=nonlinearity,
                          loss="cross_entropy", lr=0.1)
    assert_same([res["cuda"][0]] + res["cuda"][1], [res["cpu"][0]] + res["cpu"][1], ["losses"] + STATE, DT,
                nonlinearity)


def test_rflo_online_activity_larger_than_shared_memory():
    """B * (4 n + O) float64 values exceed 48 KiB, so the kernel keeps its activity in global memory."""
    B, n = 16, 200
    assert B * (4 * n + 2) * 8 > 48 * 1024
    x, y, state, fb = online_problem(3, B, 2, n, 2, "mse", seed=13, dtype=DT, feedback=True)
    res = run_online_both(x, y, state, fb, pieces=1, alpha=0.5, loss="mse", lr=0.01)
    assert_same([res["cuda"][0]] + res["cuda"][1], [res["cpu"][0]] + res["cpu"][1], ["losses"] + STATE, DT)


def test_mixed_devices_are_rejected():
    p = problem(T=3, B=2, I=2, n=4, seed=14)
    args = cuda(net_args(p))
    args[2] = args[2].cpu()
    with pytest.raises(RuntimeError, match="weight_hh to be on the device of x"):
        ops.leaky_rnn_forward(*args, 0.5, "tanh")
