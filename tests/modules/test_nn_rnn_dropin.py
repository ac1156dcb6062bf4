"""LocalRNN as a drop-in for torch.nn.RNN (issue 12): three models written for nn.RNN, each once with the RNN class
injected, run with nn.RNN and with LocalRNN (rule="bptt", nn.RNN's weights loaded from its state_dict) give the
same outputs, gradients and optimisation losses (float64); with rule="rflo" they train. Also nn.RNN's interface
details: PackedSequence (variable lengths, both directions, sorted and unsorted), state_dict loading for one
layer, two layers, bidirectional and bias=False, init="torch", attributes."""
import functools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from torch_local_rnn import LocalRNN

DT = torch.float64
TOL = 1e-10


class SequenceClassifier(nn.Module):
    """Padded sequences of different lengths -> one class each, from the last layer's h_n."""

    def __init__(self, rnn_cls, vocab=7, hidden=6, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, 4, dtype=DT)
        self.rnn = rnn_cls(4, hidden, batch_first=True, dtype=DT)
        self.head = nn.Linear(hidden, classes, dtype=DT)

    def forward(self, tokens, lengths):
        self.rnn.flatten_parameters()
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)
        padded, _ = pad_packed_sequence(out, batch_first=True)
        return self.head(h_n[-1]) + 0.1 * padded.sum(1).mean(-1, keepdim=True)


class BidirectionalTagger(nn.Module):
    """A tag per step from a 2-layer bidirectional stack (dropout between layers)."""

    def __init__(self, rnn_cls, inputs=3, hidden=5, tags=4):
        super().__init__()
        self.rnn = rnn_cls(inputs, hidden, num_layers=2, bidirectional=True, dropout=0.3, dtype=DT)
        self.head = nn.Linear(2 * hidden, tags, dtype=DT)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


class CharLanguageModel(nn.Module):
    """Next character; hx carried across batches (detached: truncated backpropagation between batches)."""

    def __init__(self, rnn_cls, vocab=6, hidden=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, 5, dtype=DT)
        self.rnn = rnn_cls(5, hidden, nonlinearity="relu", dtype=DT)
        self.head = nn.Linear(hidden, vocab, dtype=DT)

    def forward(self, chars, hx=None):
        out, hx = self.rnn(self.embed(chars), hx)
        return self.head(out), hx.detach()


def classifier_data(g):
    tokens = torch.randint(0, 7, (5, 9), generator=g)
    return (tokens, torch.tensor([9, 4, 7, 2, 6])), torch.randint(0, 3, (5,), generator=g)


def tagger_data(g):
    return (torch.randn(8, 4, 3, generator=g, dtype=DT),), torch.randint(0, 4, (8, 4), generator=g)


def lm_data(g):
    text = torch.randint(0, 6, (31, 3), generator=g)
    return [((text[k:k + 10],), text[k + 1:k + 11]) for k in (0, 10, 20)]


def loss_of(logits, target):
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


MODELS = {"classifier": (SequenceClassifier, classifier_data), "tagger": (BidirectionalTagger, tagger_data),
          "lm": (CharLanguageModel, lm_data)}


def twins(name, rule="bptt", seed=0):
    """(the model with nn.RNN, the same model with LocalRNN and the nn.RNN's weights), both in eval mode (no
    dropout: its masks come from the global generator; the training-mode run is tested separately)."""
    cls, _ = MODELS[name]
    torch.manual_seed(seed)
    ref = cls(nn.RNN)
    ours = cls(functools.partial(LocalRNN, rule=rule))
    ours.load_state_dict(ref.state_dict())
    return ref.eval(), ours.eval()


def batches(name, seed=1):
    data = MODELS[name][1](torch.Generator().manual_seed(seed))
    return data if name == "lm" else [data]


def run(model, name, seed=1):
    """Summed loss over the batches (the LM carries hx from one to the next) and the outputs."""
    total, outputs, hx = 0.0, [], None
    for inputs, target in batches(name, seed):
        if name == "lm":
            logits, hx = model(*inputs, hx)
        else:
            logits = model(*inputs)
        outputs.append(logits)
        total = total + loss_of(logits, target)
    return total, outputs


def assert_close(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    err = (got - want).abs().max().item()
    assert err <= TOL, f"{what}: max |LocalRNN - nn.RNN| = {err:.3g} > {TOL}"


@pytest.mark.parametrize("name", list(MODELS))
def test_same_outputs_and_gradients_as_nn_rnn(name):
    ref, ours = twins(name)
    (ref_loss, ref_out), (our_loss, our_out) = run(ref, name), run(ours, name)
    for k, (g, w) in enumerate(zip(our_out, ref_out)):
        assert_close(g, w, f"{name} output {k}")
    ref_loss.backward()
    our_loss.backward()
    ref_grads = dict(ref.named_parameters())
    for key, p in ours.named_parameters():
        assert_close(p.grad, ref_grads[key].grad, f"{name} grad {key}")


@pytest.mark.parametrize("name", list(MODELS))
def test_same_losses_over_optimisation_steps(name):
    models = twins(name)
    losses = []
    for model in models:
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        history = []
        for _ in range(4):
            opt.zero_grad()
            loss, _ = run(model, name)
            loss.backward()
            opt.step()
            history.append(loss.item())
        losses.append(history)
    assert max(abs(a - b) for a, b in zip(*losses)) <= TOL, f"{name}: {losses}"


@pytest.mark.parametrize("name", list(MODELS))
def test_trains_with_rflo(name):
    """rule='rflo' in the same models: every layer learns by the local rule, and the loss decreases."""
    _, model = twins(name, rule="rflo")
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    torch.manual_seed(2)  # the tagger's dropout masks
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss, _ = run(model, name)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert run(model.eval(), name)[0].item() < 0.8 * first


def test_dropout_between_layers_in_training_mode():
    """Dropout acts between layers in training mode only: eval is deterministic, training is not, and with
    dropout=0 training equals eval."""
    _, model = twins("tagger")
    x = batches("tagger")[0][0][0]
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))
    model.rnn.dropout = 0.0
    assert torch.equal(model(x), model.eval()(x))


@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2), dict(bidirectional=True), dict(bias=False),
                                dict(num_layers=2, bidirectional=True, batch_first=True, nonlinearity="relu")],
                         ids=["one layer", "two layers", "bidirectional", "bias=False", "2-layer bidirectional"])
@pytest.mark.parametrize("packed", [None, "sorted", "unsorted"])
def test_nn_rnn_state_dict_gives_its_outputs_and_gradients(kw, packed):
    g = torch.Generator().manual_seed(3)
    ref = nn.RNN(3, 5, dtype=DT, **kw)
    ours = LocalRNN(3, 5, dtype=DT, **kw)
    ours.load_state_dict(ref.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    rows = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    x = torch.randn(7, 4, 3, generator=g, dtype=DT, requires_grad=True)
    h0 = torch.randn(rows, 4, 5, generator=g, dtype=DT, requires_grad=True)
    lengths = torch.tensor([7, 5, 3, 1]) if packed == "sorted" else torch.tensor([3, 7, 1, 5])
    results = []
    for model in (ref, ours):
        xin = x.transpose(0, 1) if kw.get("batch_first") else x
        if packed:
            xin = pack_padded_sequence(xin, lengths, batch_first=kw.get("batch_first", False),
                                       enforce_sorted=packed == "sorted")
        out, h_n = model(xin, h0)
        data = out.data if packed else out
        loss = (data ** 2).sum() + (h_n ** 3).sum()
        results.append([data, h_n] + list(torch.autograd.grad(loss, [x, h0] + list(model.parameters()))))
        if packed:
            assert torch.equal(out.batch_sizes, xin.batch_sizes) and out.unsorted_indices is xin.unsorted_indices
    for k, (got, want) in enumerate(zip(*reversed(results))):
        assert_close(got, want, f"{kw} packed={packed} result {k}")


def test_init_torch_is_nn_rnns_and_papers_is_the_default():
    torch.manual_seed(5)
    ref = nn.RNN(3, 4, num_layers=2, bidirectional=True)
    torch.manual_seed(5)
    ours = LocalRNN(3, 4, num_layers=2, bidirectional=True, init="torch")
    for (name, a), (_, b) in zip(ref.named_parameters(), ours.named_parameters()):
        assert torch.equal(a, b), name
    papers = LocalRNN(3, 4, num_layers=2, generator=torch.Generator().manual_seed(1))
    w = papers.weight_hh_l1.detach()
    assert torch.allclose(w @ w.T, torch.eye(4), atol=1e-5) and not papers.bias_ih_l1.any()
    papers.reset_parameters(init="torch")
    assert papers.bias_ih_l1.abs().max() <= 0.5 and papers.bias_ih_l1.any()


def test_attributes_as_nn_rnn():
    for kw in (dict(), dict(num_layers=3, bidirectional=True, bias=False, dropout=0.2, nonlinearity="relu")):
        ref, ours = nn.RNN(3, 4, **kw), LocalRNN(3, 4, **kw)
        for attr in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional",
                     "mode"):
            assert getattr(ours, attr) == getattr(ref, attr), attr
        assert [[tuple(w.shape) for w in ws] for ws in ours.all_weights] == \
            [[tuple(w.shape) for w in ws] for ws in ref.all_weights]
        ours.flatten_parameters()
    assert LocalRNN(3, 4, nonlinearity="sigmoid").mode == "RNN_SIGMOID"


def test_scripted_stack_matches_eager():
    for rule in ("bptt", "uoro"):
        eager = LocalRNN(3, 4, num_layers=2, bidirectional=True, rule=rule, dtype=DT,
                         generator=torch.Generator().manual_seed(6))
        scripted = torch.jit.script(LocalRNN(3, 4, num_layers=2, bidirectional=True, rule=rule, dtype=DT,
                                             generator=torch.Generator().manual_seed(6)))
        x = torch.randn(5, 2, 3, dtype=DT)
        for got, want in zip(scripted(x), eager(x)):
            assert torch.equal(got, want), rule


def test_online_learner_folds_the_two_biases_and_refuses_stacks():
    from torch_local_rnn import OnlineLearner
    torch.manual_seed(7)
    ref = nn.RNN(2, 3, dtype=DT)
    rnn = LocalRNN(2, 3, rule="rflo", dtype=DT)
    rnn.load_state_dict(ref.state_dict())
    x = torch.randn(6, 1, 2, dtype=DT)
    before = rnn(x)[0]
    learner = OnlineLearner(rnn, nn.Linear(3, 2, dtype=DT), loss="mse")
    assert not rnn.bias_hh_l0.any()
    assert torch.allclose(rnn.bias_ih_l0, ref.bias_ih_l0 + ref.bias_hh_l0)
    assert torch.allclose(rnn(x)[0], before, rtol=0, atol=1e-14)  # the network's function is unchanged
    learner.load_state_dict({**learner.state_dict(), "rnn.bias_hh_l0": torch.ones(3, dtype=DT)})
    assert not rnn.bias_hh_l0.any()  # a loaded bias_hh_l0 is folded too
    for kw, pattern in ((dict(num_layers=2), "num_layers=2"), (dict(bidirectional=True), "bidirectional=True"),
                        (dict(bias=False), "bias=True")):
        with pytest.raises(ValueError, match=pattern):
            OnlineLearner(LocalRNN(2, 3, rule="rflo", dtype=DT, **kw), nn.Linear(3, 2, dtype=DT))
