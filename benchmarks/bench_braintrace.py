"""BrainTrace side by side: OnlineLearner's RFLO, e-prop and RTRL against BrainTrace's D_RTRL, EProp and SnAp-2
on the same leaky tanh network (docs/algorithms.md §1, §2.1, §3.2, §3.6):

    python benchmarks/bench_braintrace.py                     # check in float64, then time in float32
    python benchmarks/bench_braintrace.py --check-only
    python benchmarks/bench_braintrace.py --sizes 32x1,128x16 --rules rflo --steps 20000

BrainTrace (https://github.com/chaobrain/braintrace; JAX) is an optional dependency: `pip install braintrace`
(it brings jax and brainstate). Without it this script says so and exits 0.

1. Check, float64: from identical weights and data, a few online steps of both libraries must leave W_hh, W_ih,
   b, W_out, b_out and the hidden state within 1e-12 of each other (max abs difference), for each rule pair and
   for both losses. The BrainTrace model is in benchmarks/_braintrace_models.py: the readout sits outside its
   learner and is updated by hand, as our fused loop does (§2.1 step 5).
2. Time, float32, one thread each (torch.set_num_threads(1); XLA_FLAGS set below before jax is imported): ours
   is one `OnlineLearner.fit` call over T steps (one chunk, the loop in C++); theirs one call of a jitted
   lax.scan over the same T steps (compile time measured separately, on a first call, and excluded). Both in
   the same process, interleaved, best of --repeats; T is chosen from a pilot run so that the faster side
   runs >= --seconds per measurement, unless --steps fixes it. RTRL (O(n^4) per step) only at B = 1.

The machine's load average is printed with every row, as the machine may be shared.
"""
import os

# before jax is imported (by _braintrace_models): one XLA thread, as one torch thread
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()

import argparse
import datetime
import math
import platform
import sys
import time

import numpy as np
import torch
from torch import nn

import torch_local_rnn
from torch_local_rnn import LocalRNN, OnlineLearner

try:
    import _braintrace_models as bt
except ImportError as error:  # braintrace, brainstate or jax missing
    bt = None
    MISSING = str(error)

INPUTS, OUTPUTS, ALPHA = 2, 2, 0.5
RULES = ("rflo", "eprop", "rtrl")
DEFAULT_SIZES = "32x1,128x16,256x32"
RTRL_SIZES = "32x1,64x1"


def load():
    return "load %.1f %.1f %.1f" % os.getloadavg()


def network(n, dtype, seed=0):
    """Weights in torch's layout (numpy) and matching torch modules: a papers-initialised LocalRNN (orthogonal
    W_hh, W_ih ~ N(0, 1/I)) with a non-zero bias, and a readout W_out ~ N(0, 1/n)."""
    g = torch.Generator().manual_seed(seed)
    rnn = LocalRNN(INPUTS, n, nonlinearity="tanh", alpha=ALPHA, dtype=dtype, generator=g)
    readout = nn.Linear(n, OUTPUTS, dtype=dtype)
    with torch.no_grad():
        rnn.bias_ih_l0.copy_(0.1 * torch.randn(n, generator=g, dtype=torch.float64))
        rnn.bias_hh_l0.copy_(0.1 * torch.randn(n, generator=g, dtype=torch.float64))
        readout.weight.copy_(torch.randn(OUTPUTS, n, generator=g, dtype=torch.float64) / math.sqrt(n))
        readout.bias.copy_(0.1 * torch.randn(OUTPUTS, generator=g, dtype=torch.float64))
    numpy = [t.detach().numpy().copy() for t in (rnn.weight_hh_l0, rnn.weight_ih_l0,
                                                    rnn.bias_ih_l0 + rnn.bias_hh_l0,
                                                    readout.weight, readout.bias)]
    return rnn, readout, numpy


def stream(steps, batch, loss, dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, batch, INPUTS, generator=g, dtype=torch.float64)
    y = torch.randn(steps, batch, OUTPUTS, generator=g, dtype=torch.float64)
    if loss == "cross_entropy":
        y = torch.softmax(2 * y, -1)  # soft labels
    else:
        y = 0.5 * y
    return x.to(dtype), y.to(dtype)


def pair(rule, n, batch, dtype, lr, loss, unbatched=False):
    rnn, readout, weights = network(n, dtype)
    ours = OnlineLearner(rnn, readout, rule=rule, loss=loss, lr=lr, batch_size=batch)
    theirs = bt.BrainTraceOnline(rule, *weights, ALPHA, lr, batch, loss=loss, unbatched=unbatched)
    return ours, theirs


def our_weights(learner):
    rnn, readout = learner.rnn, learner.readout
    return [t.detach().numpy() for t in (rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0,
                                           readout.weight, readout.bias)]


def check(rules, steps=6, n=12, batch=3, lr=0.05):
    """float64: the weights after `steps` online steps from identical weights and data, both libraries."""
    import jax.numpy as jnp
    bt.set_precision(64)
    print(f"check, float64: n = {n}, B = {batch}, I = {INPUTS}, O = {OUTPUTS}, alpha = {ALPHA}, lr = {lr}, "
          f"{steps} steps; max |ours - theirs| after them, and how far the weights moved")
    worst = 0.0
    for rule in rules:
        for loss in ("mse", "cross_entropy"):
            ours, theirs = pair(rule, n, batch, torch.float64, lr, loss)
            start = our_weights(ours)
            x, y = stream(steps, batch, loss, torch.float64)
            our_loss = ours.fit(x, y)
            their_loss = theirs.run(jnp.asarray(x.numpy()), jnp.asarray(y.numpy()))
            names = ("W_hh", "W_ih", "b", "W_out", "b_out")
            diffs = [float(np.abs(np.asarray(t) - o).max()) for t, o in zip(theirs.weights(), our_weights(ours))]
            diffs.append(float(np.abs(np.asarray(theirs.hidden()) - ours.hidden.numpy()).max()))
            moved = max(float(np.abs(o - s).max()) for o, s in zip(our_weights(ours), start))
            # reported losses: ours is ½ mean_k for mse (theirs ½ Σ_k), both means over streams
            scale = OUTPUTS if loss == "mse" else 1.0
            loss_diff = float(np.abs(np.asarray(their_loss) / scale - our_loss.mean(1).numpy()).max())
            worst = max(worst, *diffs)
            print(f"  {rule:>5} / {theirs.name:<7} {loss:<13} " +
                  "  ".join(f"{k} {d:.1e}" for k, d in zip(names + ("a_T",), diffs)) +
                  f"  loss {loss_diff:.1e}  (moved {moved:.1e})")
    ok = worst <= 1e-12
    print(f"  worst difference {worst:.1e}: {'OK' if ok else 'MISMATCH'} (tolerance 1e-12)")
    bt.set_precision(32)
    return ok


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(rule, n, batch, args):
    """(our µs/step, their µs/step, T, their compile seconds, which form of theirs)."""
    import jax.numpy as jnp
    lr, loss = args.lr, args.loss
    forms = [False, True] if batch == 1 and not args.batched_only else [False]

    def build(steps, unbatched):
        ours, theirs = pair(rule, n, batch, torch.float32, lr, loss, unbatched)
        x, y = stream(steps, batch, loss, torch.float32)
        xj, yj = jnp.asarray(x.numpy()), jnp.asarray(y.numpy())
        compile_s = timed(lambda: theirs.run(xj, yj))  # trace + compile + one run
        return ours, theirs, x, y, xj, yj, compile_s

    def one(ours, theirs, x, y, xj, yj):
        return timed(lambda: ours.fit(x, y, chunk_size=x.shape[0])), timed(lambda: theirs.run(xj, yj))

    steps = args.steps
    unbatched = False
    if steps is None or len(forms) > 1:  # pilot: per-step times, and the faster form of theirs at B = 1
        pilot = max(200, min(2000, int(2e5 / n ** (4 if rule == "rtrl" else 2) * 4)))
        best = {}
        for form in forms:
            ours, theirs, x, y, xj, yj, _ = build(pilot, form)
            ours.fit(x[:50], y[:50])
            times = [one(ours, theirs, x, y, xj, yj) for _ in range(2)]
            best[form] = (min(t[0] for t in times) / pilot, min(t[1] for t in times) / pilot)
        unbatched = min(forms, key=lambda f: best[f][1])
        if steps is None:
            fastest = min(min(best[f][0] for f in forms), best[unbatched][1])
            steps = int(math.ceil(args.seconds / fastest / 1000.0)) * 1000
            steps = max(1000, min(steps, args.max_steps))
    for attempt in range(3):
        ours, theirs, x, y, xj, yj, first = build(steps, unbatched)
        ours.fit(x[:50], y[:50])
        ours_s, theirs_s = [], []
        for _ in range(args.repeats):  # interleaved
            o, t = one(ours, theirs, x, y, xj, yj)
            ours_s.append(o)
            theirs_s.append(t)
        shortest = min(min(ours_s), min(theirs_s))
        # the pilot's short runs overstate the per-step time (call overheads): lengthen T and measure again
        if args.steps is not None or shortest >= 0.85 * args.seconds or steps >= args.max_steps:
            break
        steps = min(args.max_steps, int(math.ceil(steps * args.seconds / shortest / 1000.0)) * 1000)
    compile_s = first - min(theirs_s)
    return (min(ours_s) / steps * 1e6, min(theirs_s) / steps * 1e6, steps, compile_s,
            "(n,)" if unbatched else f"({batch}, n)", shortest)


def parse_sizes(text):
    sizes = []
    for item in text.split(","):
        n, b = item.lower().split("x")
        sizes.append((int(n), int(b)))
    return sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"n x B list for rflo and eprop ({DEFAULT_SIZES})")
    parser.add_argument("--rtrl-sizes", default=RTRL_SIZES, help=f"n x B list for rtrl ({RTRL_SIZES})")
    parser.add_argument("--rules", default=",".join(RULES), help="subset of rflo,eprop,rtrl")
    parser.add_argument("--steps", type=int, default=None, help="T per measurement (default: from a pilot run)")
    parser.add_argument("--seconds", type=float, default=0.6, help="target seconds of the faster side per run")
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--loss", default="mse", choices=("mse", "cross_entropy"))
    parser.add_argument("--batched-only", action="store_true",
                        help="at B = 1 time BrainTrace on (1, n) states only (default: the faster of (1, n), (n,))")
    parser.add_argument("--check-only", action="store_true", help="the float64 check only")
    args = parser.parse_args()
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        parser.error(f"unknown rules {unknown}; choose from {list(RULES)}")

    if bt is None:
        print(f"bench_braintrace: skipped, BrainTrace is not installed ({MISSING}); `pip install braintrace` "
              f"(an optional dependency, with jax and brainstate) to run it")
        return 0
    torch.set_num_threads(1)
    versions = bt.versions()
    print(f"{datetime.date.today()}  {platform.processor() or platform.machine()}, {os.cpu_count()} cores  "
          f"torch {torch.__version__} ({torch.get_num_threads()} thread)  " +
          "  ".join(f"{k} {v}" for k, v in versions.items()) + f"  XLA_FLAGS='{os.environ['XLA_FLAGS']}'")
    print(f"torch_local_rnn from {os.path.dirname(torch_local_rnn.__file__)}; {load()}")
    ok = check(rules)
    if args.check_only:
        return 0 if ok else 1

    print(f"\ntime, float32, one thread each, I = {INPUTS}, O = {OUTPUTS}, alpha = {ALPHA}, lr = {args.lr}, "
          f"loss {args.loss}; best of {args.repeats} interleaved; us per step")
    header = (f"  {'ours':>5} / {'theirs':<7} {'n':>4} {'B':>3} {'T':>8}  {'ours':>9} {'theirs':>9} "
              f"{'ours/theirs':>11}  {'their compile':>13}  their state  load")
    print(header)
    rows = []
    for rule in rules:
        for n, batch in parse_sizes(args.rtrl_sizes if rule == "rtrl" else args.sizes):
            if rule == "rtrl" and batch > 1:
                print(f"  rtrl at B = {batch} skipped (RTRL is O(n^4) per stream)")
                continue
            ours_us, theirs_us, steps, compile_s, form, shortest = measure(rule, n, batch, args)
            name = bt.ALGORITHMS[rule][2]
            rows.append((rule, name, n, batch, ours_us, theirs_us))
            note = "" if shortest >= 0.5 else f"  (shortest run {shortest:.2f} s)"
            print(f"  {rule:>5} / {name:<7} {n:>4} {batch:>3} {steps:>8}  {ours_us:>9.2f} {theirs_us:>9.2f} "
                  f"{ours_us / theirs_us:>11.2f}  {compile_s:>11.2f} s  {form:<11}  {load()}{note}",
                  flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
