"""The online ops on a busy machine (docs/design.md §1.5): a competing process keeps one core busy, and each
rule's online step runs with 1 thread and with torch's default threads; the ratio default/1 should stay below
1.3 (issue 10's bar). Default settings: no OMP_WAIT_POLICY, no tuned environment.

    python benchmarks/bench_under_load.py               # n = 32, B = 1 and n = 256, B = 32
    python benchmarks/bench_under_load.py --no-load     # the same without the competing process
"""
import argparse
import multiprocessing as mp
import os
import time

import torch
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner

CASES = [(32, 1, "rflo", 20_000), (256, 32, "rflo", 200), (256, 32, "uoro", 100), (256, 32, "kernl", 60),
         (256, 32, "dni", 100)]


def _spin(stop):
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def _learner(n, batch, rule, steps):
    inputs = 32 if n >= 128 else 2
    g = torch.Generator().manual_seed(0)
    learner = OnlineLearner(LocalRNN(inputs, n, generator=g), nn.Linear(n, 2), rule=rule, lr=1e-4, batch_size=batch,
                            generator=g)
    x = torch.randn(steps, batch, inputs, generator=g)
    y = torch.softmax(torch.randn(steps, batch, 2, generator=g), -1)
    learner.fit(x[:10], y[:10])
    return learner, x, y


def per_step_us(n, batch, rule, threads, steps, repeats=5):
    """Best of `repeats` for each thread count, the two interleaved (a load that changes meanwhile hits both)."""
    runs = {t: _learner(n, batch, rule, steps) for t in threads}
    best = {t: float("inf") for t in threads}
    for _ in range(repeats):
        for t, (learner, x, y) in runs.items():
            torch.set_num_threads(t)
            start = time.perf_counter()
            learner.fit(x, y)
            best[t] = min(best[t], (time.perf_counter() - start) / steps * 1e6)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-load", action="store_true", help="no competing process")
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    stop = mp.Event()
    load = None if args.no_load else mp.Process(target=_spin, args=(stop,), daemon=True)
    if load is not None:
        load.start()
    try:
        print(f"{'with' if load else 'without'} a competing process; default threads {default_threads}; "
              f"load average {os.getloadavg()[0]:.1f}")
        for n, batch, rule, steps in CASES:
            best = per_step_us(n, batch, rule, (1, default_threads), steps)
            one, many = best[1], best[default_threads]
            print(f"  n={n:>3} B={batch:>2} {rule:<6} 1 thread {one:10.1f} us/step, {default_threads} threads "
                  f"{many:10.1f} us/step, ratio {many / one:.2f}", flush=True)
    finally:
        stop.set()
        if load is not None:
            load.join()


if __name__ == "__main__":
    main()
