"""What an ensemble buys (docs/algorithms.md §2.10): one learner's online steps per second against the aggregate
network-steps per second (members x steps / s) of an E-member OnlineEnsemble, one op call per chunk for all
members, on the torch threads given and on one thread:

    python benchmarks/bench_ensemble.py                      # n = 32, B = 1, float32, RFLO, E = 64
    python benchmarks/bench_ensemble.py --members 16 --steps 4000 --units 64

The members split over the threads (grain 1), so the ensemble's gain over one learner comes from the threads and
from the work each op call amortises (one Python chunk loop, one dispatch, for E networks). RFLO / e-prop at
B = 1 (this default) take the CPU's member-lane fast path (docs/algorithms.md §2.10: the members in SIMD lanes);
the line says which path ran, and TLR_MEMBERS_SIMD=0 in the environment measures the members' scalar steps:

    TLR_MEMBERS_SIMD=0 python benchmarks/bench_ensemble.py
"""
import argparse
import time

import torch
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner, ops


def make(units, batch, rule, seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    return OnlineLearner(LocalRNN(2, units, generator=g), nn.Linear(units, 2), rule=rule, lr=1e-3 * (1 + seed % 4),
                         batch_size=batch, generator=g)


def data(steps, batch):
    g = torch.Generator().manual_seed(1)
    return torch.randn(steps, batch, 2, generator=g), torch.softmax(torch.randn(steps, batch, 2, generator=g), -1)


def seconds(fit, x, y, chunk):
    fit(x[:50], y[:50], chunk_size=chunk)  # warm
    start = time.perf_counter()
    fit(x, y, chunk_size=chunk)
    return time.perf_counter() - start


def compare(args, x, y):
    """(one learner's steps/s, the ensemble's network-steps/s) on the same E networks from the same state: the
    cost of a step depends on the values (denormals as a network settles), so the baseline is every member run
    alone, one after another, over the same steps."""
    learners = [make(args.units, args.batch, args.rule, s) for s in range(args.members)]
    ens = OnlineLearner.stack(learners)  # copies them
    alone = sum(seconds(learner.fit, x, y, args.chunk) for learner in learners)
    return args.members * args.steps / alone, args.members * args.steps / seconds(ens.fit, x, y, args.chunk)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--members", type=int, default=64)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--chunk", type=int, default=1000)
    p.add_argument("--rule", default="rflo")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch threads of the first row (default: torch's)")
    args = p.parse_args()
    x, y = data(args.steps, args.batch)
    default_threads = args.threads or torch.get_num_threads()
    print(f"rule {args.rule}, n = {args.units}, B = {args.batch}, float32, E = {args.members}, T = {args.steps}")
    for threads in dict.fromkeys([default_threads, 1]):
        torch.set_num_threads(threads)
        before = ops.members_simd_calls()
        runs = sorted((compare(args, x, y) for _ in range(args.repeats)), key=lambda r: r[1] / r[0])
        one, agg = runs[len(runs) // 2]  # the median ratio of the repeats (a shared machine's noise)
        path = "member-lane fast path" if ops.members_simd_calls() > before else "members' scalar steps"
        print(f"threads {threads}: one learner {one:,.0f} steps/s (each member alone, in turn); ensemble {agg:,.0f} "
              f"network-steps/s ({agg / one:.1f}x one learner; {path})")

if __name__ == "__main__":
    main()
