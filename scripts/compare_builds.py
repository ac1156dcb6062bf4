"""Every rule's results from two builds of torch-local-rnn on the same inputs, for refactors that must not change
numbers: the online form (OnlineLearner.fit: losses, weights, rule state) and the sequence form (LocalRNN
forward + backward: outputs and gradients), float64 and float32, for each rule in both trees.

    python scripts/compare_builds.py --base /path/to/other/checkout    # prints the largest difference per case

Each tree runs in a child process that imports its own torch_local_rnn (PYTHONPATH) and writes its results; the
table shows max |this - base| per case (and per tensor: online 0 = losses, then the learner's parameters, then the
rule state; sequence 0 = output, 1 = input gradient, then the parameters' gradients) and "bitwise" where every
value is equal to the bit.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import sys, torch
from torch_local_rnn import LocalRNN, OnlineLearner, rules
out = {}
for dtype in (torch.float64, torch.float32):
    for name in sorted(rules.RULES):
        config = rules.RULES[name]()
        if config.has_online_form and name != "bptt":
            torch.manual_seed(0)
            rnn = LocalRNN(3, 9, alpha=0.7, dtype=dtype, rule=name if config.has_sequence_form else "bptt")
            learner = OnlineLearner(rnn, torch.nn.Linear(9, 2, dtype=dtype), rule=name, batch_size=3, lr=1e-2,
                                    generator=torch.Generator().manual_seed(1))
            x = torch.randn(40, 3, 3, dtype=dtype)
            y = torch.softmax(torch.randn(40, 3, 2, dtype=dtype), -1)
            losses = learner.fit(x, y)
            tensors = [losses] + [p.detach().clone() for p in learner.parameters()]
            tensors += [t.clone() for t in learner.rule_state().values()]
            out[f"online {name} {dtype}"] = tensors
        if config.has_sequence_form:
            torch.manual_seed(0)
            rnn = LocalRNN(3, 9, alpha=0.7, dtype=dtype, rule=name, generator=torch.Generator().manual_seed(1))
            x = torch.randn(25, 4, 3, dtype=dtype, requires_grad=True)
            seq, h = rnn(x)
            (seq.sin().sum() + h.sum()).backward()
            out[f"sequence {name} {dtype}"] = [seq.detach(), x.grad] + [p.grad.clone() for p in rnn.parameters()]
torch.save(out, sys.argv[1])
"""


def run(tree, path):
    env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", CHILD, path], env=env, check=True, cwd=tree)
    return torch.load(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the other checkout (its library built)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours = run(ROOT, os.path.join(tmp, "ours.pt"))
        base = run(os.path.abspath(args.base), os.path.join(tmp, "base.pt"))
    worst = 0.0
    for case in sorted(set(ours) | set(base)):
        if case not in ours or case not in base:
            print(f"{case:45s} only in {'this tree' if case in ours else 'base'}")
            continue
        pairs = list(zip(ours[case], base[case]))
        diff = max(float((a - b).abs().max()) if a.numel() else 0.0 for a, b in pairs)
        bitwise = all(torch.equal(a, b) for a, b in pairs)
        worst = max(worst, diff) if "float64" in case else worst
        where = "" if bitwise else " (" + ", ".join(
            f"{i}: {float((a - b).abs().max()):.1e}" for i, (a, b) in enumerate(pairs) if not torch.equal(a, b)) + ")"
        print(f"{case:45s} {'bitwise' if bitwise else f'max |diff| {diff:.3e}'}{where}")
    print(f"largest float64 difference: {worst:.3e}")


if __name__ == "__main__":
    main()
