"""float16 / bfloat16 and torch.autocast through LocalRNN (docs/algorithms.md §1.3): float32 inside, measured
against float64 on the same weights; autocast trains "Linear then LocalRNN"; mixing dtypes is refused."""
import pytest
import torch
from torch import nn

import torch_local_rnn as tlr

T, B, I, N = 50, 4, 3, 16
# output error and relative gradient error against float64 the rounding of inputs and weights allows
BOUNDS = {torch.bfloat16: (3e-2, 2e-2), torch.float16: (4e-3, 2e-3)}


def _pair(rule, dtype):
    wide = tlr.LocalRNN(I, N, rule=rule, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    low = tlr.LocalRNN(I, N, rule=rule, dtype=dtype)
    low.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in wide.state_dict().items()})
    with torch.no_grad():  # the float64 network on the rounded weights: what is left is the op's own error
        for p, q in zip(wide.parameters(), low.parameters()):
            p.copy_(q.double())
    return wide, low


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_reduced_precision_runs_in_float32_inside(rule, dtype):
    wide, low = _pair(rule, dtype)
    x = torch.randn(T, B, I, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).to(dtype)
    out, h_n = low(x)
    assert out.dtype == dtype and h_n.dtype == dtype
    out.float().pow(2).sum().backward()
    ref, _ = wide(x.double())
    ref.pow(2).sum().backward()
    out_bound, grad_bound = BOUNDS[dtype]
    assert (out.double() - ref).abs().max() < out_bound
    grad, grad_ref = low.weight_hh_l0.grad, wide.weight_hh_l0.grad
    assert grad.dtype == dtype
    assert (grad.double() - grad_ref).norm() / grad_ref.norm() < grad_bound
    with torch.inference_mode():  # the path below autograd too
        assert torch.equal(low(x)[0], out.detach())


def test_a_half_precision_recurrence_would_fail_the_bound():
    # the bound can fail: a bfloat16 state carried step to step (rounded every step) drifts past it
    wide, low = _pair("bptt", torch.bfloat16)
    x = torch.randn(T, B, I, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a = torch.zeros(B, N, dtype=torch.bfloat16)
    with torch.no_grad():
        for t in range(T):
            a = torch.tanh(a @ low.weight_hh_l0.T + x[t].bfloat16() @ low.weight_ih_l0.T + low.bias_ih_l0)
        ref, _ = wide(x)
    assert (a.double() - ref[-1]).abs().max() > (low(x.bfloat16())[0][-1].double() - ref[-1]).abs().max()


def test_mixed_dtypes_without_autocast_are_refused():
    rnn = tlr.LocalRNN(I, N)
    x = torch.randn(T, B, I).bfloat16()
    with pytest.raises(ValueError, match=r"input dtype \(torch.bfloat16\) does not match weight dtype"):
        rnn(x)  # nn.RNN's message
    weights = [rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0]
    with pytest.raises(RuntimeError, match=r"expected weight_hh to have the dtype of x \(BFloat16"):
        tlr.ops.leaky_rnn(x, torch.zeros(B, N).bfloat16(), *weights)


@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_linear_then_localrnn_trains_under_autocast(rule):
    torch.manual_seed(0)
    linear, rnn, readout = nn.Linear(4, I), tlr.LocalRNN(I, N, rule=rule), nn.Linear(N, 2)
    params = [*linear.parameters(), *rnn.parameters(), *readout.parameters()]
    opt = torch.optim.SGD(params, lr=0.1)
    x, y = torch.randn(20, 8, 4), torch.randn(20, 8, 2)
    losses = []
    for _ in range(30):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, _ = rnn(linear(x))
            z = readout(out)
        assert out.dtype == torch.float32 and z.dtype == torch.bfloat16
        loss = (z.float() - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is not None and p.dtype == torch.float32 for p in params)
    assert losses[-1] < 0.95 * losses[0]


def test_bfloat16_compiles_in_one_graph():
    rnn = tlr.LocalRNN(I, N, dtype=torch.bfloat16)
    compiled = torch.compile(rnn, backend="aot_eager", fullgraph=True)
    x = torch.randn(T, B, I, dtype=torch.bfloat16)
    out, _ = compiled(x)
    out.float().sum().backward()
    assert out.dtype == torch.bfloat16 and torch.equal(out, rnn(x)[0])
    assert rnn.weight_hh_l0.grad.dtype == torch.bfloat16
