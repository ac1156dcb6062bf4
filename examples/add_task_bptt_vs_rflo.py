"""Train a LocalRNN on the Add task (t1=5, t2=9) in a plain PyTorch loop; the rule is one argument.

    python examples/add_task_bptt_vs_rflo.py bptt
    python examples/add_task_bptt_vs_rflo.py rflo

Everything else (data, initial weights, optimizer, windows) is the same for both rules: 32 parallel
streams cut into windows of 50 steps, the state carried (detached) from one window to the next,
a readout nn.Linear(32, 2), cross-entropy with the task's soft labels, torch.optim.Adam.
``python -m torch_local_rnn compare`` runs both side by side and plots the curves.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader

from torch_local_rnn import LocalRNN
from torch_local_rnn.losses import per_step_loss
from torch_local_rnn.tasks import AddTask

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("rule", nargs="?", default="bptt", choices=("bptt", "rflo"))
parser.add_argument("--steps", type=int, default=10_000, help="training steps per stream")
parser.add_argument("--lr", type=float, default=3e-3)
args = parser.parse_args()

torch.set_num_threads(1)  # n = 32: tiny per-step work, extra threads only add synchronisation
torch.manual_seed(0)      # initial weights (the same for both rules)
task = AddTask(t1=5, t2=9)
rnn = LocalRNN(task.input_size, 32, rule=args.rule)  # <- the only difference between the two rules
readout = nn.Linear(32, task.output_size)
optimizer = torch.optim.Adam([*rnn.parameters(), *readout.parameters()], lr=args.lr)

train = DataLoader(task.dataset(args.steps, batch=32, chunk_size=50, seed=0), batch_size=None)
x_test, y_test = task.generate(10_000, batch=8, seed=1)


def test_loss() -> float:
    with torch.no_grad():
        out, _ = rnn(x_test)  # zero initial state, no learning
        return per_step_loss(readout(out), y_test, task.loss).mean().item()


h = None
for window, (x, y) in enumerate(train):  # x, y: (50, 32, 2)
    out, h = rnn(x, None if h is None else h.detach())
    loss = per_step_loss(readout(out), y, task.loss).mean()
    optimizer.zero_grad()
    loss.backward()  # weight_hh/weight_ih/bias get the rule's gradient (exact for bptt, RFLO's for rflo)
    optimizer.step()
    if window % 50 == 0:
        print(f"step {window * 50:>7,}  train {loss.item():.4f}  test {test_loss():.4f}")

print(f"\n{args.rule}: final test loss {test_loss():.4f}")
for name, value in task.reference_levels.items():
    print(f"  {name:<17}{value:.4f}")
