"""What OnlineLearner's paths beyond the papers' cost per step (docs/algorithms.md §2.7-§2.9), float32, one
torch thread per process:

    python benchmarks/bench_online_paths.py                  # n = 32, B = 1 and B = 16
    python benchmarks/bench_online_paths.py --units 64 --steps 4000

Rows: the fused loop with each optimiser (sgd is the papers' step; the others add a gradient capture and an
optimiser phase); the general path (an nn.Sequential readout, one op call and one autograd graph per step);
data parallel over 2 gloo processes on this machine, every step's update all-reduced (sync_every = 1) and the
weights averaged every 100 steps, against one process with all the streams.
"""
import argparse
import os
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner


def make(units, batch, optimizer="sgd", general=False, process_group=None, sync_every=1):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    readout = nn.Linear(units, 2)
    return OnlineLearner(LocalRNN(2, units, generator=g), nn.Sequential(readout) if general else readout,
                         rule="rflo", optimizer=optimizer, lr=1e-3, batch_size=batch, generator=g,
                         process_group=process_group, sync_every=sync_every)


def data(steps, batch):
    g = torch.Generator().manual_seed(1)
    return torch.randn(steps, batch, 2, generator=g), torch.softmax(torch.randn(steps, batch, 2, generator=g), -1)


def per_step_us(learner, x, y, repeats=3):
    learner.fit(x[:50], y[:50])  # warm
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        learner.fit(x, y)
        best = min(best, time.perf_counter() - start)
    return best / x.shape[0] * 1e6


def _rank(rank, init, units, batch, steps, sync_every, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=2)
    learner = make(units, batch, process_group=dist.group.WORLD, sync_every=sync_every)
    x, y = data(steps, batch)
    us = per_step_us(learner, x, y, repeats=2)
    if rank == 0:
        with open(out, "w") as f:
            f.write(str(us))
    dist.barrier()  # every rank done before any exits
    os._exit(0)  # past gloo's teardown, which aborted a rank now and then (examples/online_data_parallel.py)


def data_parallel_us(units, batch, steps, sync_every):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "us")
        mp.spawn(_rank, args=(os.path.join(d, "init"), units, batch, steps, sync_every, out), nprocs=2)
        return float(open(out).read())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, steps = args.units, args.steps
    print(f"n = {n}, float32, one thread per process, {steps} steps; us per step (best of 3)")
    for batch in (1, 16):
        x, y = data(steps, batch)
        for optimizer in ("sgd", "momentum", "adam", "adamw"):
            print(f"  B = {batch:>2}  fused {optimizer:<9} {per_step_us(make(n, batch, optimizer), x, y):9.2f}")
        short = max(200, steps // 10)
        print(f"  B = {batch:>2}  general path (Sequential readout, sgd) "
              f"{per_step_us(make(n, batch, general=True), x[:short], y[:short]):9.2f}")
    for batch in (1, 16):
        single = per_step_us(make(n, 2 * batch), *data(steps, 2 * batch))
        every = data_parallel_us(n, batch, steps // 4, 1)
        local = data_parallel_us(n, batch, steps, 100)
        print(f"  2 ranks x B = {batch:>2}: all-reduce every step {every:9.2f}, weights every 100 steps {local:9.2f}; "
              f"one process with B = {2 * batch}: {single:9.2f}")


if __name__ == "__main__":
    main()
