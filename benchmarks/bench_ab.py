"""Two builds of torch-local-rnn side by side, alternating, so both see the same machine load.

    python benchmarks/bench_ab.py --base /path/to/other/checkout        # this checkout vs that one
    python benchmarks/bench_ab.py --base DIR --rounds 5 --load 2        # with 2 competing busy processes
    python benchmarks/bench_ab.py --base DIR --only "uoro n=256"        # the cases whose name contains the text

Each round runs every case once in a fresh child process per tree (tree A = this checkout, tree B = --base;
each imports its own torch_local_rnn through PYTHONPATH) in alternating order; the table gives the median
steps per second of each tree and the ratio new/base. Cases use only the public API both trees have
(LocalRNN, OnlineLearner, rules): the online loop of every rule in the papers' setting (n=32, B=1, float64 and float32)
and the O(n^2) rules at n=256, B=32 (float32), plus the sequence-form training steps (B=32, n=256, T=1000).
--load N starts N processes that spin on the CPU during the measurement (a shared machine), with default
OpenMP settings in the measured processes.
"""
import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import json, sys, time, torch
from torch_local_rnn import LocalRNN, OnlineLearner, rules
case = json.loads(sys.argv[1])
torch.manual_seed(0)
def online(rule, n, B, dtype, steps):
    rnn = LocalRNN(2 if n == 32 else 32, n, dtype=dtype, rule=rule if rule not in ("dni", "dni_b") else "bptt")
    learner = OnlineLearner(rnn, torch.nn.Linear(n, 2, dtype=dtype), rule=rule, batch_size=B, lr=1e-4,
                            generator=torch.Generator().manual_seed(1))
    I = rnn.input_size
    x = torch.randn(steps, B, I, dtype=dtype)
    y = torch.softmax(torch.randn(steps, B, 2, dtype=dtype), -1)
    learner.fit(x[: max(1, steps // 10)], y[: max(1, steps // 10)])
    start = time.perf_counter()
    learner.fit(x, y)
    return steps / (time.perf_counter() - start)
def sequence(rule, T=1000, B=32, I=32, n=256):
    rnn = LocalRNN(I, n, rule=rule)
    x = torch.randn(T, B, I)
    def step():
        rnn.zero_grad()
        out, _ = rnn(x)
        out.sum().backward()
    step()
    start = time.perf_counter()
    step()
    return 1.0 / (time.perf_counter() - start)
if case["kind"] == "online":
    rate = online(case["rule"], case["n"], case["B"], getattr(torch, case["dtype"]), case["steps"])
else:
    rate = sequence(case["rule"])
print(json.dumps(rate))
"""

SMALL = ["rflo", "eprop", "output_only", "e_bptt", "f_bptt", "uoro", "kf_rtrl", "rkf_rtrl", "kernl", "dni", "dni_b",
         "rtrl"]
LARGE = ["rflo", "output_only", "uoro", "kernl", "dni", "dni_b", "e_bptt"]


def cases(quick: bool):
    steps = 5_000 if quick else 50_000
    out = [dict(kind="online", rule=r, n=32, B=1, dtype=dtype, steps=steps // (20 if r == "rtrl" else 1))
           for dtype in ("float64", "float32") for r in SMALL]
    out += [dict(kind="online", rule=r, n=256, B=32, dtype="float32", steps=20 if quick else 200) for r in LARGE]
    out += [dict(kind="sequence", rule=r) for r in ("bptt", "rflo")]
    return out


def case_name(case: dict) -> str:
    if case["kind"] == "online":
        return f"online {case['rule']} n={case['n']} B={case['B']} {case['dtype']}"
    return f"sequence {case['rule']} training step B=32 n=256 T=1000"


def run(tree: str, case: dict) -> float:
    env = dict(os.environ, PYTHONPATH=tree)
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(case)], env=env, capture_output=True, text=True,
                            cwd="/", check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{tree}: {case}: {result.stderr.strip().splitlines()[-1:]}")
    return float(result.stdout.strip().splitlines()[-1])


def spin():
    while True:
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the other checkout (its torch_local_rnn must be built)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load", type=int, default=0, help="busy processes competing for the CPU")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="run the cases whose name contains this text")
    args = parser.parse_args(argv)
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.load)]
    for p in spinners:
        p.start()
    try:
        table = []
        for case in cases(args.quick):
            if args.only not in case_name(case):
                continue
            rates = {"new": [], "base": []}
            for k in range(args.rounds):
                order = [("new", ROOT), ("base", args.base)] if k % 2 == 0 else [("base", args.base), ("new", ROOT)]
                for label, tree in order:
                    rates[label].append(run(tree, case))
            new, base = statistics.median(rates["new"]), statistics.median(rates["base"])
            name = case_name(case)
            table.append((name, new, base))
            print(f"{name:<44} new {new:12,.1f}/s  base {base:12,.1f}/s  new/base {new / base:6.3f}", flush=True)
    finally:
        for p in spinners:
            p.terminate()


if __name__ == "__main__":
    main()
