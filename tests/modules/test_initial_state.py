"""The run's start (docs/algorithms.md §1.1) and KeRNL's perturbed-copy start (§3.7 quirk (ii)): OnlineLearner's
initial_state and KeRNL's perturbed_init switches."""
import pytest
import torch

from torch_local_rnn import LocalRNN, OnlineLearner, reference, rules

DT = torch.float64


def learner(rule="rflo", initial_state="zeros", seed=0, batch=3, nonlinearity="tanh"):
    torch.manual_seed(seed)
    rule = rules.resolve(rule)
    rnn = LocalRNN(2, 8, rule=rule if rule.has_sequence_form else "bptt", nonlinearity=nonlinearity, dtype=DT)
    return OnlineLearner(rnn, torch.nn.Linear(8, 2).double(), rule=rule, batch_size=batch,
                         generator=torch.Generator().manual_seed(seed + 1), initial_state=initial_state)


def test_zeros_is_the_default_start():
    lrn = learner()
    assert torch.equal(lrn.hidden, torch.zeros(3, 8, dtype=DT))
    lrn.fit(torch.randn(5, 3, 2, dtype=DT), torch.softmax(torch.randn(5, 3, 2, dtype=DT), -1))
    lrn.reset_state()
    assert torch.equal(lrn.hidden, torch.zeros(3, 8, dtype=DT))


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid", "relu"])
def test_random_start_is_phi_of_a_standard_normal_and_redrawn_per_run(nonlinearity):
    lrn = learner(initial_state="random", nonlinearity=nonlinearity)
    first = lrn.hidden.clone()
    # a = phi(h), h ~ N(0, 1): invert phi where it is invertible and check h's moments on many draws
    draws = torch.stack([first] + [(lrn.reset_state(), lrn.hidden.clone())[1] for _ in range(300)])
    assert not torch.equal(draws[0], draws[1]), "reset_state must draw a new start"
    if nonlinearity == "tanh":
        h = torch.atanh(draws.clamp(-1 + 1e-12, 1 - 1e-12))
    elif nonlinearity == "sigmoid":
        h = torch.logit(draws)
    else:  # relu: half the units are 0, the rest |N(0, 1)|
        assert abs((draws == 0).double().mean().item() - 0.5) < 0.03
        h = draws[draws > 0]
        assert abs(h.mean().item() - (2 / torch.pi) ** 0.5) < 0.03
        return
    assert abs(h.mean().item()) < 0.03 and abs(h.std().item() - 1) < 0.03


def test_random_start_is_seeded_and_resumes_exactly():
    a, b = learner(initial_state="random", seed=4), learner(initial_state="random", seed=4)
    assert torch.equal(a.hidden, b.hidden)
    assert not torch.equal(a.hidden, learner(initial_state="random", seed=5).hidden)
    x, y = torch.randn(20, 3, 2, dtype=DT), torch.softmax(torch.randn(20, 3, 2, dtype=DT), -1)
    a.fit(x, y)
    a.reset_state()
    la = a.fit(x, y)
    b.fit(x, y)
    saved = b.state_dict()
    c = learner(initial_state="random", seed=99)
    c.load_state_dict(saved)
    c.reset_state()
    assert torch.equal(c.fit(x, y), la), "the start drawn after a restore must equal the uninterrupted run's"


def test_random_start_leaves_deterministic_rules_exact():
    """The start is the only draw: the run from it equals the reference loop from the same a_0."""
    lrn = learner(initial_state="random", batch=1)
    a0 = lrn.hidden.clone()
    W = [p.detach().clone() for p in (lrn.rnn.weight_hh_l0, lrn.rnn.weight_ih_l0, lrn.rnn.bias_ih_l0, lrn.readout.weight,
                                      lrn.readout.bias)]
    x, y = torch.randn(30, 1, 2, dtype=DT), torch.softmax(torch.randn(30, 1, 2, dtype=DT), -1)
    got = lrn.fit(x, y)
    want = reference.rflo_online(x, y, a0, torch.zeros(1, 8, 11, dtype=DT), *W, lr=lrn.lr)
    torch.testing.assert_close(got, want.losses, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(lrn.hidden, want.hidden, rtol=1e-9, atol=1e-12)


def test_bad_initial_state_is_rejected():
    with pytest.raises(ValueError, match="initial_state in .*'zeros'.*but got 'ones'"):
        learner(initial_state="ones")


def test_kernl_perturbed_copy_starts_at_the_run_start_by_default():
    lrn = learner(rules.KeRNL(), initial_state="random")
    assert torch.equal(lrn.kernl_perturbed, lrn.hidden)
    lrn.reset_state()
    assert torch.equal(lrn.kernl_perturbed, lrn.hidden)


def test_kernl_construction_state_starts_apart_and_the_gap_decays():
    lrn = learner(rules.KeRNL(perturbed_init="construction_state", lr=0.0), initial_state="random", batch=1)
    gap0 = (lrn.kernl_perturbed - lrn.hidden).abs().max().item()
    assert gap0 > 0.1, "the copy keeps its own (construction) state: a~ - a starts O(1)"
    assert lrn.kernl_perturbed.abs().max() <= 1  # tanh of a standard normal draw
    torch.manual_seed(7)
    lrn.fit(torch.randn(200, 1, 2, dtype=DT), torch.softmax(torch.randn(200, 1, 2, dtype=DT), -1))
    gap = (lrn.kernl_perturbed - lrn.hidden).abs().max().item()
    assert gap < 0.1 * gap0, f"the gap should decay through the contracting dynamics: {gap0:.3f} -> {gap:.3f}"


def test_kernl_bad_perturbed_init_is_rejected():
    with pytest.raises(ValueError, match="perturbed_init in .*but got 'later'"):
        rules.KeRNL(perturbed_init="later")
    with pytest.raises(ValueError, match="needs random_state"):
        rules.KeRNL(perturbed_init="construction_state").online_state(1, 4, 2, dtype=DT)
