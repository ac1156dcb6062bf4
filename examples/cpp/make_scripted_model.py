"""Writes a TorchScript model containing LocalRNN (rule RFLO, or --rule: any rule with a sequence form, the
stochastic ones drawing their noise inside the op) for examples/cpp/script_consumer.cpp:

    python examples/cpp/make_scripted_model.py model.pt [--rule uoro]
"""
import argparse

import torch
from torch import nn

from torch_local_rnn import LocalRNN


class Model(nn.Module):
    def __init__(self, rule="rflo"):
        super().__init__()
        self.rnn = LocalRNN(2, 16, alpha=0.5, rule=rule, dtype=torch.float64)
        self.readout = nn.Linear(16, 1, dtype=torch.float64)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.readout(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--rule", default="rflo")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.jit.script(Model(args.rule)).save(args.path)
    print(f"wrote {args.path}")


if __name__ == "__main__":
    main()
