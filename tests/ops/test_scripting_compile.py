"""TorchScript, torch.library.opcheck and torch.compile (docs/design.md §2.1)."""
import pytest
import torch
from torch import nn

from helpers import DT, assert_rel, generator, problem, randn, soft_targets, local_rnn
from torch_local_rnn import LocalRNN, ops, reference as R

OPS = torch.ops.torch_local_rnn
# torch.jit.script is deprecated (docs/design.md §2.1: keep one smoke test, don't design around it)
script_ok = pytest.mark.filterwarnings("ignore:`torch.jit.script.*` is deprecated:DeprecationWarning")
OPCHECK_UTILS = ("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")


# ----------------------------------------------------------------------------- TorchScript
@script_ok
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("rule", ["bptt", "rflo", "uoro", "kf_rtrl", "rkf_rtrl", "kernl"])
def test_script_local_rnn_matches_eager(rule, batch_first):
    """Every rule with a sequence form; the stochastic ones draw the same noise from the same seed (their
    counter, buffers noise_seed and noise_offset, which the scripted module keeps; docs/algorithms.md §2.5)."""
    p = problem(T=9, B=3, I=2, n=4, seed=91)
    eager = local_rnn(2, 4, weights=p, alpha=0.5, rule=rule, batch_first=batch_first, dtype=DT, generator=generator(93))
    scripted = torch.jit.script(local_rnn(2, 4, weights=p, alpha=0.5, rule=rule, batch_first=batch_first, dtype=DT, generator=generator(93)))
    x = p["x"].transpose(0, 1) if batch_first else p["x"]
    results = []
    for model in (eager, scripted):
        out, h_n = model(x, p["h0"][None])
        loss = (out * out.detach().cos()).sum() + h_n.sum()
        loss.backward()
        results.append([out, h_n] + [q.grad for q in model.parameters()])
        # unbatched and no-h0 forms compile too
        out_u, h_u = model(p["x"][:, 0])
        results[-1] += [out_u, h_u]
    for a, b in zip(*results):
        assert_rel(a, b, 1e-14)


@script_ok
def test_script_function_calling_ops():
    @torch.jit.script
    def run(x: torch.Tensor, h0: torch.Tensor, W: torch.Tensor, U: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = torch.ops.torch_local_rnn.leaky_rnn(x, h0, W, U, b, 0.5, "tanh", "rflo", [0.3], [])
        return out

    p = problem(T=5, B=2, I=2, n=3, seed=92)
    args = (p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"])
    assert_rel(run(*args), R.leaky_rnn_forward(*args, 0.5, "tanh"), 1e-13)


# ----------------------------------------------------------------------------- opcheck
def small():
    return problem(T=4, B=2, I=3, n=4, seed=93)


@pytest.mark.parametrize("rule,options", [("bptt", []), ("rflo", []), ("rflo", [0.3])])
@pytest.mark.parametrize("requires_grad", [True, False])
def test_opcheck_leaky_rnn(rule, options, requires_grad):
    p = small()
    args = [p[k].clone().requires_grad_(requires_grad) for k in ("x", "h0", "weight_hh", "weight_ih", "bias")]
    torch.library.opcheck(OPS.leaky_rnn.default, (*args, 0.5, "tanh", rule, options, []), test_utils=OPCHECK_UTILS)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid"])
def test_opcheck_leaky_rnn_forward(nonlinearity):
    p = small()
    torch.library.opcheck(OPS.leaky_rnn_forward.default, (p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"],
                                                          0.5, nonlinearity), test_utils=OPCHECK_UTILS)


@pytest.mark.parametrize("which", ["bptt", "rflo"])
def test_opcheck_backward_ops(which):
    p = small()
    out, dphi = ops.leaky_rnn_forward(p["x"], p["h0"], p["weight_hh"], p["weight_ih"], p["bias"], 0.5, "tanh")
    args = (p["grad_output"], p["x"], p["h0"], p["weight_hh"], p["weight_ih"], out, dphi, 0.5)
    if which == "bptt":
        torch.library.opcheck(OPS.leaky_rnn_bptt_backward.default, args, test_utils=OPCHECK_UTILS)
    else:
        torch.library.opcheck(OPS.leaky_rnn_rflo_backward.default, args + (0.3,), test_utils=OPCHECK_UTILS)


def online_args(with_feedback, loss="cross_entropy"):
    T, B, I, n, O = 4, 2, 3, 4, 3
    p = problem(T, B, I, n, seed=94)
    g = generator(95)
    y = soft_targets(T, B, O, g) if loss == "cross_entropy" else randn(T, B, O, gen=g)
    fb = randn(O, n, gen=g) if with_feedback else None
    return (p["x"], y, p["h0"].clone(), torch.zeros(B, n, n + I + 1, dtype=DT), p["weight_hh"].clone(),
            p["weight_ih"].clone(), p["bias"].clone(), randn(O, n, gen=g), randn(O, gen=g), fb, 0.5, 0.5, "tanh",
            loss, 0.1)


@pytest.mark.parametrize("test_util", OPCHECK_UTILS)
@pytest.mark.parametrize("with_feedback", [False, True])
def test_opcheck_rflo_online(test_util, with_feedback):
    # the op mutates its state and weights: fresh copies for every opcheck call
    torch.library.opcheck(OPS.rflo_online.default, online_args(with_feedback), test_utils=test_util)
    torch.library.opcheck(OPS.rflo_online.default, online_args(with_feedback, "mse"), test_utils=test_util)


# ----------------------------------------------------------------------------- torch.compile
class Net(nn.Module):
    def __init__(self, rule, p):
        super().__init__()
        self.rnn = local_rnn(2, 4, weights=p, alpha=0.5, rule=rule, dtype=DT)
        self.head = nn.Linear(4, 3, dtype=DT)

    def forward(self, x, h0):
        out, h_n = self.rnn(x, h0)
        return self.head(out), h_n


def eager_and_compiled(backend, rule):
    p = problem(T=8, B=3, I=2, n=4, seed=96)
    torch.manual_seed(0)
    eager = Net(rule, p)
    torch.manual_seed(0)
    model = Net(rule, p)
    compiled = torch.compile(model, backend=backend, fullgraph=True)
    results = []
    for m, params in ((eager, eager.parameters()), (compiled, model.parameters())):
        x, h0 = p["x"].clone().requires_grad_(True), p["h0"].clone().requires_grad_(True)
        y, h_n = m(x, h0[None])
        (y.pow(2).sum() + h_n.sum()).backward()
        results.append([y, h_n, x.grad, h0.grad] + [q.grad for q in params])
    return results


@script_ok
@pytest.mark.parametrize("backend", ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)])  # C++ build
@pytest.mark.parametrize("rule", ["bptt", "rflo"])
def test_compile_module_matches_eager(backend, rule):
    """backend="inductor" is the default torch.compile backend; it needs a working C++ compiler."""
    torch._dynamo.reset()
    eager, compiled = eager_and_compiled(backend, rule)
    for a, b in zip(eager, compiled):
        assert b is not None
        assert_rel(b, a, 1e-12)


@pytest.mark.parametrize("backend", ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)])
def test_compile_rflo_online_matches_eager(backend):
    """The mutating op under compile, including the clone-then-mutate pattern of pytorch#198031."""
    torch._dynamo.reset()

    def train(x, y, state, W_out, b_out):
        mine = [s.clone() for s in state]
        losses = torch.ops.torch_local_rnn.rflo_online(x, y, *mine, W_out, b_out, None, 0.5, 0.5, "tanh",
                                                       "cross_entropy", 0.1)
        return losses, mine

    args = online_args(False)
    x, y, state, W_out, b_out = args[0], args[1], list(args[2:7]), args[7], args[8]
    before = [s.clone() for s in state]
    W_out_e, b_out_e = W_out.clone(), b_out.clone()
    L_eager, s_eager = train(x, y, state, W_out_e, b_out_e)
    W_out_c, b_out_c = W_out.clone(), b_out.clone()
    L_comp, s_comp = torch.compile(train, backend=backend)(x, y, state, W_out_c, b_out_c)
    assert_rel(L_comp, L_eager, 1e-13, "losses")
    for a, b in zip(s_comp + [W_out_c, b_out_c], s_eager + [W_out_e, b_out_e]):
        assert_rel(a, b, 1e-13)
    for s, b in zip(state, before):  # the clones were mutated, not the originals
        assert torch.equal(s, b)
    assert not torch.equal(W_out_c, W_out)  # the readout weights were updated in place
