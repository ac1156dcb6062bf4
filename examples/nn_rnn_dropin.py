"""LocalRNN in place of torch.nn.RNN: a model written for nn.RNN (2-layer bidirectional tagger on packed
sequences of different lengths) runs unchanged with LocalRNN. With rule="bptt" and the nn.RNN's state_dict it
computes the same outputs; with rule="rflo" every layer learns by the local rule instead.

    python examples/nn_rnn_dropin.py
"""
import functools

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from torch_local_rnn import LocalRNN


class Tagger(nn.Module):
    def __init__(self, rnn_cls, inputs=3, hidden=16, tags=2):
        super().__init__()
        self.rnn = rnn_cls(inputs, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * hidden, tags)

    def forward(self, x, lengths):
        self.rnn.flatten_parameters()
        out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return self.head(pad_packed_sequence(out, batch_first=True)[0])


torch.manual_seed(0)
x, lengths = torch.randn(16, 12, 3), torch.randint(4, 13, (16,))
target = (x.cumsum(1)[..., 0] > 0).long()  # tag: is the running sum of the first input positive?
mask = torch.arange(12)[None] < lengths[:, None]

reference = Tagger(nn.RNN)
swapped = Tagger(functools.partial(LocalRNN, rule="bptt"))  # the only change: the RNN class
swapped.load_state_dict(reference.state_dict())            # nn.RNN's parameter names: loads as is
difference = (swapped(x, lengths) - reference(x, lengths)).abs().max().item()
print(f"rule='bptt' with nn.RNN's weights: max |output difference| = {difference:.2e}")

model = Tagger(functools.partial(LocalRNN, rule="rflo"))
opt = torch.optim.Adam(model.parameters(), lr=5e-2)
for step in range(12):
    loss = nn.functional.cross_entropy(model(x, lengths)[mask], target[:, :lengths.max()][mask])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 4 == 0 or step == 11:
        print(f"rule='rflo' step {step:2d}: loss {loss.item():.3f}")
