"""online_learn's credit mode (docs/algorithms.md §2.8): q_t = dL_t/da_t is given, the readout is the caller's.
Independent check: the credit comes from autograd in Python through an nn.Linear readout and a per-stream
cross-entropy (so credit = W_out^T (softmax(z) - y), the fused op's own q_t), and the recurrent gradient the op
captures from it (optimizer "none", weights held) must be the one the fused op captures with its own readout."""
import pytest
import torch

from helpers import online_weights_problem, DT, assert_rel, generator, randn
from torch_local_rnn import ops, rules

T, I, N, O = 6, 3, 5, 3
M = N + I + 1
ALPHA, LR = 0.7, 0.05
TOL = 1e-13
NAMES = ("weight_hh", "weight_ih", "bias", "weight_out", "bias_out")


def problem(B, seed):
    return online_weights_problem(T, B, I, N, O, seed)


def python_forward(x, hidden, weights):
    """a_1..a_T (T, B, n) with fixed weights, written out here (not the op's forward)."""
    W, U, b = weights[:3]
    a, states = hidden, []
    for t in range(x.shape[0]):
        a = (1 - ALPHA) * a + ALPHA * torch.tanh(a @ W.T + x[t] @ U.T + b)
        states.append(a)
    return torch.stack(states)


def autograd_credit(states, y, weights):
    """dL_t/da_t per stream (T, B, n) through nn.Linear + cross-entropy with soft targets; each stream's loss
    depends on its own a only, so the gradient of the sum is every stream's own credit."""
    readout = torch.nn.Linear(N, O).double()
    with torch.no_grad():
        readout.weight.copy_(weights[3])
        readout.bias.copy_(weights[4])
    a = states.detach().clone().requires_grad_(True)
    loss = -(y * torch.log_softmax(readout(a), -1)).sum()
    return torch.autograd.grad(loss, a)[0]


def call(rule, x, y, hidden, weights, state, optimizer="none", opt_state=None, credit=None, record=None,
         rule_tensors=()):
    return ops.online_learn(rule.name, x, y, hidden, *weights, state, None, None, ALPHA, "tanh", "cross_entropy",
                            LR, rule.online_options(ALPHA), list(rule_tensors), record, 0.0, optimizer, [],
                            opt_state, 0, None, credit)


def captured():
    return torch.zeros(ops.optimizer_state_numel("none", N, I, O), dtype=DT)


def rule_state(rule, B):
    return [s.clone() for s in rule.online_state(B, N, I, dtype=DT).values()]


@pytest.mark.parametrize("rule,B", [(rules.RFLO(), 3), (rules.RTRL(), 2)], ids=["rflo", "rtrl"])
def test_credit_from_autograd_gives_the_fused_recurrent_gradient(rule, B):
    """Driven one step at a time (the first is the T = 1 case), then the whole stream in one call."""
    x, y, hidden, weights = problem(B, seed=31)
    credit = autograd_credit(python_forward(x, hidden, weights), y, weights)
    h_f, s_f, cap_f = hidden.clone(), rule_state(rule, B), captured()
    h_c, s_c, cap_c = hidden.clone(), rule_state(rule, B), captured()
    w = [t.clone() for t in weights]  # "none" never moves them, so both runs can share them
    for t in range(T):
        call(rule, x[t:t + 1], y[t:t + 1], h_f, w, s_f, opt_state=cap_f)
        losses = call(rule, x[t:t + 1], y[t:t + 1], h_c, w, s_c, opt_state=cap_c, credit=credit[t:t + 1].clone())
        assert torch.equal(losses, torch.zeros(1, B, dtype=DT)), "the credit mode evaluates no loss"
        assert_rel(h_c, h_f, TOL, f"step {t} hidden")
        assert_rel(cap_c[:N * M], cap_f[:N * M], TOL, f"step {t} captured recurrent gradient")
        assert cap_f[:N * M].abs().max() > 1e-3, "a gradient worth comparing"
    for a, b, name in zip(w, weights, NAMES):
        assert torch.equal(a, b), f"'none' moved {name}"

    h_1, s_1, cap_1 = hidden.clone(), rule_state(rule, B), captured()
    losses = call(rule, x, y, h_1, w, s_1, opt_state=cap_1, credit=credit.clone())
    assert torch.equal(losses, torch.zeros(T, B, dtype=DT))
    assert_rel(h_1, h_f, TOL, "one call: hidden")
    assert_rel(cap_1[:N * M], cap_f[:N * M], TOL, "one call: the last step's recurrent gradient")
    for a, b, k in zip(s_1, s_f, range(len(s_f))):
        assert_rel(a, b, TOL, f"one call: state[{k}]")


def test_credit_mode_leaves_the_readout_and_its_inputs_alone():
    """With sgd the recurrent weights learn from the given credit; the readout is the caller's: W_out and b_out
    stay bit for bit, and x, y and credit are only read."""
    rule = rules.RFLO()
    x, y, hidden, weights = problem(2, seed=32)
    credit = autograd_credit(python_forward(x, hidden, weights), y, weights)
    x0, y0, c0 = x.clone(), y.clone(), credit.clone()
    w = [t.clone() for t in weights]
    losses = call(rule, x, y, hidden.clone(), w, rule_state(rule, 2), optimizer="sgd", credit=credit)
    assert torch.equal(losses, torch.zeros(T, 2, dtype=DT))
    assert torch.equal(w[3], weights[3]) and torch.equal(w[4], weights[4]), "the readout moved"
    assert (w[0] - weights[0]).abs().max() > 1e-4, "the recurrent weights must learn from the credit"
    assert torch.equal(x, x0) and torch.equal(y, y0) and torch.equal(credit, c0)


def test_credit_of_the_wrong_shape_is_refused():
    rule = rules.RFLO()
    x, y, hidden, weights = problem(2, seed=33)
    w, h = [t.clone() for t in weights], hidden.clone()
    with pytest.raises(RuntimeError, match=r"online_learn: expected credit of shape \(seq_len, batch, hidden_size\)"):
        call(rule, x, y, h, w, rule_state(rule, 2), optimizer="sgd", credit=torch.zeros(T, 2, N + 1, dtype=DT))
    assert torch.equal(h, hidden)
    for a, b, name in zip(w, weights, NAMES):
        assert torch.equal(a, b), f"a refused call moved {name}"


def test_credit_with_record_is_refused():
    """DNI's recorded signals follow from the fused readout, which the credit mode does not run."""
    rule = rules.DNI()
    x, y, hidden, weights = problem(2, seed=34)
    state = [s.clone() for s in rule.online_state(2, N, I, outputs=O, generator=generator(35), dtype=DT).values()]
    w = [t.clone() for t in weights]
    with pytest.raises(RuntimeError, match=r"online_learn: record is not available in the credit mode"):
        call(rule, x, y, hidden.clone(), w, state, optimizer="sgd", credit=torch.zeros(T, 2, N, dtype=DT),
             record=torch.zeros(T, 2, 4, N, dtype=DT))
    for a, b, name in zip(w, weights, NAMES):
        assert torch.equal(a, b), f"a refused call moved {name}"


def test_none_in_the_credit_mode_hands_back_a_zero_readout_gradient():
    # the readout is the caller's: a stale readout half of the state would be applied by online_optimizer_step
    x, y, hidden, weights = problem(2, 41)
    state = torch.full((ops.optimizer_state_numel("none", N, I, O),), 7.0, dtype=DT)
    credit = randn(T, 2, N, gen=generator(42))
    ops.online_learn("rflo", x, y, hidden.clone(), *[w.clone() for w in weights], [torch.zeros(2, N, M, dtype=DT)],
                     None, None, ALPHA, "tanh", "cross_entropy", LR, [ALPHA], [], None, 0.0, "none", [], state, 0,
                     None, credit)
    assert torch.count_nonzero(state[N * M:]) == 0
    assert torch.count_nonzero(state[:N * M]) > 0
