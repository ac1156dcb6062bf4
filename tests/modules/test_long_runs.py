"""Long online runs (slow tier): every online rule for 10^6 float32 steps (RTRL, O(n^4) per step: 10^5) of the
Add task with the papers' network (n = 32, one stream) through OnlineLearner, fitted in chunks as a long
experiment would: the losses, the network and every carried tensor stay finite, and memory stays flat (the
resident set and Python's own allocations, tracemalloc, between the end of the first chunk and the end of the
last one: nothing accumulates per step or per call).

About 2 minutes on 2 cores for the whole set (one intra-op thread; KeRNL, F-BPTT, R-KF-RTRL, RTRL: 10-15 s each);
``pytest -m slow tests/modules/test_long_runs.py -k uoro`` runs one rule.
"""
import ctypes
import gc
import math
import os
import time
import tracemalloc

import pytest
import torch
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner, rules, tasks

pytestmark = pytest.mark.slow

N = 32
CHUNKS = 10  # a long experiment's fit calls (the memory is compared between the first and the last)
RULES = {"output_only": rules.OutputOnly(), "rflo": rules.RFLO(), "eprop": rules.EProp(),
         "f_bptt": rules.FBPTT(), "e_bptt": rules.EBPTT(), "uoro": rules.UORO(), "kf_rtrl": rules.KFRTRL(),
         "rkf_rtrl": rules.RKFRTRL(), "kernl": rules.KeRNL(reset_interval=1000), "dni": rules.DNI(),
         "dni_b": rules.DNIb(), "rtrl": rules.RTRL()}
STEPS = {name: 10 ** 5 if name == "rtrl" else 10 ** 6 for name in RULES}
# Bounds on growth between the end of the first chunk and the end of the last: after gc and malloc_trim the
# resident set of these runs stays within a few hundred kB, while a leak of even a few bytes per step (900k steps
# apart) shows as megabytes.
RSS_SLACK = 4 * 2 ** 20
PY_SLACK = 2 ** 20


def rss_bytes() -> int:
    """The resident set after a garbage collection and, on glibc, malloc_trim: freed blocks the allocator keeps
    (a chunk's noise and losses, tens of MB) would otherwise hide or fake a trend."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def one_thread():
    """One intra-op thread: the run time does not depend on what else the machine runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident set from /proc")
@pytest.mark.parametrize("name", list(RULES))
def test_long_online_run_is_finite_with_flat_memory(name, one_thread):
    task = tasks.AddTask(5, 9)
    g = torch.Generator().manual_seed(7)
    online_only = not RULES[name].has_sequence_form
    rnn = LocalRNN(task.input_size, N, rule="bptt" if online_only else RULES[name], generator=g)
    readout = nn.Linear(N, task.output_size)
    with torch.no_grad():
        readout.weight.copy_(torch.randn(task.output_size, N, generator=g) / math.sqrt(N))
        readout.bias.zero_()
    learner = OnlineLearner(rnn, readout, loss=task.loss, lr=1e-3, generator=g,
                            rule=RULES[name] if online_only else None)
    steps, started = STEPS[name], time.perf_counter()
    chunk = steps // CHUNKS
    first_loss = last_loss = None
    tracemalloc.start()
    try:
        for k, (x, y) in enumerate(task.stream(steps, batch=1, chunk_size=chunk, seed=3)):
            losses = learner.fit(x[:, 0], y[:, 0], chunk_size=chunk)
            assert torch.isfinite(losses).all(), f"{name}: non-finite loss in chunk {k}"
            del x, y
            if k == 0:
                rss0, py0 = rss_bytes(), tracemalloc.get_traced_memory()[0]
                first_loss = losses.mean().item()
            last_loss = losses.mean().item()
        rss1, py1 = rss_bytes(), tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert int(learner.steps_done) == steps
    for key, value in learner.state_dict().items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), f"{name}: {key} is not finite after {steps} steps"
    assert rss1 - rss0 <= RSS_SLACK, f"{name}: resident set grew by {(rss1 - rss0) / 2 ** 20:.1f} MB"
    assert py1 - py0 <= PY_SLACK, f"{name}: Python allocations grew by {(py1 - py0) / 2 ** 10:.0f} kB"
    print(f"{name}: {steps} steps in {time.perf_counter() - started:.1f} s, mean loss {first_loss:.4f} (first "
          f"chunk) -> {last_loss:.4f} (last), rss {rss0 / 2 ** 20:.0f} -> {rss1 / 2 ** 20:.0f} MB")
