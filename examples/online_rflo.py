"""RFLO trained online on the Add task with the papers' protocol (docs/algorithms.md §2.1, §6.3):
n = 32, tanh, alpha = 1, one stream (B = 1), plain SGD after every time step, lr 1e-4.

    python examples/online_rflo.py                      # 1,000,000 steps, lr 1e-4 (the papers')
    python examples/online_rflo.py --steps 200000 --lr 1e-3

Prints the mean training loss of every chunk and the test loss (fresh stream, zero state,
learning off) after it. The whole time loop runs in C++ (OnlineLearner.fit).
"""
import argparse

import torch
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner
from torch_local_rnn.tasks import AddTask

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--steps", type=int, default=1_000_000)
parser.add_argument("--chunk", type=int, default=50_000, help="steps between printouts")
parser.add_argument("--lr", type=float, default=1e-4)
args = parser.parse_args()

torch.set_num_threads(1)
torch.manual_seed(0)
task = AddTask(t1=5, t2=9)
rnn = LocalRNN(task.input_size, 32, rule="rflo")
readout = nn.Linear(32, task.output_size)
learner = OnlineLearner(rnn, readout, loss=task.loss, optimizer="sgd", lr=args.lr)
x_test, y_test = task.generate(10_000, batch=1, seed=1)

print("levels: " + ", ".join(f"{k} {v:.4f}" for k, v in task.reference_levels.items()))
done = 0
for x, y in task.stream(args.steps, batch=1, chunk_size=args.chunk, seed=0):  # x, y: (chunk, 1, 2)
    train = learner.fit(x, y).mean().item()  # updates the weights after every step
    test = learner.evaluate(x_test, y_test).mean().item()
    done += x.shape[0]
    print(f"step {done:>9,}  train {train:.4f}  test {test:.4f}")
