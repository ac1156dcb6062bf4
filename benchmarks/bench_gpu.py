"""GPU benchmarks of torch-local-rnn against baselines measured in the same run (scripts/gpu_check.sh runs it):
prints one line per measurement and writes the record, {"date", "device", "torch", ..., "cases": {name: {...}}},
to --json (rewritten after every case, so a run cut short still leaves what it measured).

    python benchmarks/bench_gpu.py                        # CUDA, the full record (about 1-2 min on an H200)
    python benchmarks/bench_gpu.py --only online_rules    # the cases whose name contains a string
    python benchmarks/bench_gpu.py --device cpu --quick --json /tmp/gpu_bench_smoke.json   # smoke test, no GPU

The cases (float32; B batch, n hidden units, I inputs, T steps, E members):
  seq_forward_B{B}_n{n}_T1000     LocalRNN forward (no_grad) vs torch.nn.RNN (cuDNN): {"ours_ms", "cudnn_ms",
                                  "ratio"}; LocalRNN is a leaky RNN and nn.RNN a tanh RNN of the same shapes.
  seq_{rflo,bptt}_step_B{B}_n{n}_T1000   the training step: zero_grad, forward, out.sum().backward(), against
                                  nn.RNN's. Sizes B64 n512 I64, B32 n256 I32, B1 n32 I2; B64 also with
                                  TLR_CUDA_SEQUENCE=stepwise ("stepwise_ms"; a library without the switch ignores it).
                                  On a GPU each also under every persistent kernel alone
                                  (TLR_CUDA_PERSISTENT=warp / cluster / flags: "kernel_ms", or the error where a
                                  size does not fit one).
  online_rflo_ensemble_E1024_n32  E RFLO learners (B=1, I=2, O=2) in one OnlineEnsemble: network-steps/s
                                  (E * steps / s), beside one OnlineLearner alone and the E members on the CPU;
                                  on a GPU also a member's step time at 1, SMs and 4 x SMs members
                                  ("members_scaling") and the E members under each launch TLR_CUDA_MEMBERS
                                  fixes ("member_launches").
  online_rflo_n1024_B64           RFLO online: the trace pass's time (RFLO's step minus output_only's) against the
                                  trace's memory traffic (read + written once a step, 2 * B*n*(n+I+1)*4 bytes) and
                                  a device copy of the trace's size: "fraction_of_copy_bandwidth"; the whole
                                  step's as "step_fraction_of_copy_bandwidth".
  online_rtrl_n128_B16            RTRL online steps/s (target >= 100).
  online_rules_n32_B1, online_rules_n128_B16   every rule's online op, steps/s, on the device and on the CPU (its
                                  cores, same run); at n128_B16 with TLR_CUDA_ONLINE=block and =auto.

Every measurement is sized by a time budget: one warm-up call, a doubling probe, then up to 3 calls of about
budget/3 each (the median). Each case runs in its own try/except: an error is recorded as {"error": ...} and the
run goes on; the exit status is then 3 (else 0). Environment switches set for a measurement are put back after it.
"""
import argparse
import contextlib
import os
import sys
import time

import torch
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner, rules

from _gpu_record import (MEMBERS_SWITCH, ONLINE_SWITCH, PERSISTENT_SWITCH, SEQUENCE_SWITCH, START, Record,
                         environment, has_error, library_paths, measure_ms, measure_rate, ratio, reraise, say, sync)

ALL_RULES = [rules.OutputOnly(), rules.RFLO(), rules.RTRL(), rules.FBPTT(21), rules.EBPTT(20), rules.UORO(),
             rules.KFRTRL(), rules.RKFRTRL(), rules.KeRNL(), rules.DNI(), rules.DNIb()]
CPU = torch.device("cpu")
# the persistent kernels (docs/design.md §3.6): a warp per stream (n <= 32), the tiled kernel's two exchanges
PERSISTENT_KERNELS = ["warp", "cluster", "flags"]
# online_learn_members' launches (TLR_CUDA_MEMBERS): threads a member, unbounded or register-capped build
MEMBER_LAUNCHES = ["32", "64", "128", "256", "capped64", "capped128"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------------------------- sequence form
class SequenceBench:
    """One size of the sequence form: the input, cuDNN's nn.RNN and its times (measured once, shared by the
    size's three cases)."""

    def __init__(self, device, T, B, I, n, budget):
        self.device, self.T, self.B, self.I, self.n, self.budget = device, T, B, I, n, budget
        torch.manual_seed(0)
        self.x = torch.randn(T, B, I, device=device)
        self.rnn = nn.RNN(I, n).to(device)
        self._cudnn = {}

    def suffix(self):
        return f"B{self.B}_n{self.n}_T{self.T}"

    def cudnn_ms(self, kind):
        if kind not in self._cudnn:
            if kind == "forward":
                self._cudnn[kind] = measure_ms(self.forward_fn(self.rnn), self.device, self.budget)
            else:
                self._cudnn[kind] = measure_ms(self.step_fn(self.rnn), self.device, self.budget)
            label = "nn.RNN (cuDNN)" if self.device.type == "cuda" else "nn.RNN        "
            say(f"  {label} {kind:<8} {self._cudnn[kind]:9.3f} ms")
        return self._cudnn[kind]

    def forward_fn(self, module):
        def forward():
            with torch.no_grad():
                module(self.x)
        return forward

    def step_fn(self, module):
        def step():
            module.zero_grad()
            module(self.x)[0].sum().backward()
        return step

    def local(self, rule):
        torch.manual_seed(1)
        return LocalRNN(self.I, self.n, rule=rule).to(self.device)

    def case(self, kind, rule, stepwise):
        """kind "forward" (rule's forward under no_grad) or "step" (the training step)."""
        module = self.local(rule)
        fn = self.forward_fn(module) if kind == "forward" else self.step_fn(module)
        ours = measure_ms(fn, self.device, self.budget)
        result = {"ours_ms": ours, "cudnn_ms": self.cudnn_ms(kind), "path": library_paths()}
        result["ratio"] = ratio(ours, result["cudnn_ms"])
        line = (f"  LocalRNN {rule:<4} {kind:<8} {ours:9.3f} ms ({result['ratio']:6.2f}x nn.RNN)")
        if stepwise:
            with environment(SEQUENCE_SWITCH, "stepwise"):
                result["stepwise_ms"] = measure_ms(fn, self.device, self.budget)
                result["stepwise_path"] = library_paths()
            result["stepwise_over_ours"] = ratio(result["stepwise_ms"], ours)
            line += f"   {SEQUENCE_SWITCH}=stepwise {result['stepwise_ms']:9.3f} ms"
        say(line)
        if self.device.type == "cuda":
            result["kernel_ms"] = self.kernels(fn)
        return result

    def kernels(self, fn):
        """Each persistent kernel alone (TLR_CUDA_SEQUENCE=persistent, so a size that one cannot run is an error
        here, not a silent stepwise time)."""
        times = {}
        for kernel in PERSISTENT_KERNELS:
            try:
                with environment(SEQUENCE_SWITCH, "persistent"), environment(PERSISTENT_SWITCH, kernel):
                    times[kernel] = measure_ms(fn, self.device, self.budget)
                say(f"    {PERSISTENT_SWITCH}={kernel:<7} {times[kernel]:9.3f} ms")
            except Exception as error:  # noqa: BLE001 (a record: the size does not fit that kernel)
                times[kernel] = {"error": str(error).splitlines()[0][:300]}
                say(f"    {PERSISTENT_SWITCH}={kernel:<7} not run: {times[kernel]['error']}")
        return times


def sequence_cases(record, device, T, B, I, n, budget, stepwise):
    say(f"## sequence form on {device.type}: T={T}, B={B}, input={I}, n={n}, float32, against torch.nn.RNN")
    try:
        bench = SequenceBench(device, T, B, I, n, budget)
    except Exception as error:  # noqa: BLE001 (recorded under each of the size's cases)
        for name in ("forward", "rflo_step", "bptt_step"):
            record.case(f"seq_{name}_B{B}_n{n}_T{T}", reraise, error)
        return
    record.case(f"seq_forward_{bench.suffix()}", bench.case, "forward", "rflo", stepwise)
    record.case(f"seq_rflo_step_{bench.suffix()}", bench.case, "step", "rflo", stepwise)
    record.case(f"seq_bptt_step_{bench.suffix()}", bench.case, "step", "bptt", stepwise)
    del bench
    if device.type == "cuda":
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------- online
def online_data(steps, B, I=2, O=2, device=CPU, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, B, I, generator=g)
    y = torch.softmax(torch.randn(steps, B, O, generator=g), -1)
    return x.to(device), y.to(device)


def make_learner(rule, n, B, device, seed=1, I=2, O=2):
    """An OnlineLearner of rule (a Rule), n units, B streams, float32, on device; the same seed, the same net."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    rnn = LocalRNN(I, n, rule=rule if rule.has_sequence_form else "bptt", generator=g)
    return OnlineLearner(rnn, nn.Linear(n, O), lr=1e-4, rule=rule, batch_size=B).to(device)


def fit_rate(fitter, x, y, device, budget):
    """measure_rate of fitter.fit (an OnlineLearner or OnlineEnsemble), one op call of `count` steps a call."""
    return measure_rate(lambda count: fitter.fit(x[:count], y[:count], chunk_size=count), device, budget,
                        x.shape[0])


def ensemble_case(device, E, n, max_steps, budget, cpu_budget):
    """E RFLO members in one OnlineEnsemble on device, one learner alone, and (on a GPU run) the E members on
    the CPU, measured for about cpu_budget seconds besides the setup (a few seconds in all)."""
    def members_rate(dev, budget_, members=E):
        start = time.perf_counter()
        learners = [make_learner(rules.RFLO(), n, 1, dev, seed=s) for s in range(members)]
        ensemble = OnlineLearner.stack(learners)
        del learners
        setup = time.perf_counter() - start
        x, y = online_data(max_steps, 1, device=dev)
        m = fit_rate(ensemble, x, y, dev, budget_)
        return {"network_steps_per_s": members * m["rate"], "members": members, "steps": m["count"],
                "step_us": 1e6 / m["rate"], "seconds": m["seconds"],
                "repeats": m["repeats"], "setup_s": setup, **({"note": m["note"]} if "note" in m else {})}

    result = members_rate(device, budget)
    result["path"] = library_paths()
    if device.type == "cuda":
        # A member's step time with 1 member, 1 and 4 a multiprocessor, beside E's: flat, the step's own latency
        # bounds E; growing with members a multiprocessor, what they share (issue slots, the shared-memory pipe).
        sms = torch.cuda.get_device_properties(device).multi_processor_count
        scaling = {}
        for members in (1, sms, 4 * sms):
            try:
                m = members_rate(device, budget / 4, members)
                scaling[str(members)] = {k: m[k] for k in ("network_steps_per_s", "step_us")}
            except Exception as error:  # noqa: BLE001 (the main measurement stands)
                scaling[str(members)] = {"error": f"{type(error).__name__}: {error}"[:500]}
        scaling[str(E)] = {k: result[k] for k in ("network_steps_per_s", "step_us")}
        result["members_scaling"] = scaling
        say("  a member's step, by members: " + ", ".join(
            f"E={k}: {v['step_us']:.2f} us" if "step_us" in v else f"E={k}: error" for k, v in scaling.items()))
        result["member_launches"] = member_launches(device, E, n, max_steps, budget / 4)
    x, y = online_data(max_steps, 1, device=device)
    one = fit_rate(make_learner(rules.RFLO(), n, 1, device), x, y, device, budget / 2)
    result["one_learner"] = {"steps_per_s": one["rate"], "steps": one["count"], "seconds": one["seconds"]}
    result["ratio_vs_one_learner"] = ratio(result["network_steps_per_s"], one["rate"])
    say(f"  {device.type}: E={E} ensemble {result['network_steps_per_s']:14,.0f} network-steps/s "
        f"({result['steps']} steps a call, setup {result['setup_s']:.1f} s); one learner {one['rate']:12,.0f} "
        f"steps/s; {result['ratio_vs_one_learner']:.1f}x")
    if device.type != "cpu":
        try:
            cpu = members_rate(CPU, cpu_budget)
            result["cpu"] = cpu
            result["device_over_cpu"] = ratio(result["network_steps_per_s"], cpu["network_steps_per_s"])
            say(f"  cpu ({os.cpu_count()} cores): E={E} ensemble {cpu['network_steps_per_s']:14,.0f} network-steps/s;"
                f" {device.type} / cpu {result['device_over_cpu']:.2f}x")
        except Exception as error:  # noqa: BLE001
            result["cpu"] = {"error": f"{type(error).__name__}: {error}"[:2000]}
            say(f"  cpu ensemble: ERROR {result['cpu']['error'][:300]}")
    return result


def member_launches(device, E, n, max_steps, budget):
    """The E members under each launch TLR_CUDA_MEMBERS fixes (threads a member, the unbounded or the capped
    build; docs/design.md §3.7), one ensemble for all: which launch `auto` should take is measured here."""
    ensemble = OnlineLearner.stack([make_learner(rules.RFLO(), n, 1, device, seed=s) for s in range(E)])
    x, y = online_data(max_steps, 1, device=device)
    launches = {}
    for launch in MEMBER_LAUNCHES:
        try:
            with environment(MEMBERS_SWITCH, launch):
                m = fit_rate(ensemble, x, y, device, budget)
            launches[launch] = {"network_steps_per_s": E * m["rate"], "step_us": 1e6 / m["rate"]}
        except Exception as error:  # noqa: BLE001 (a record)
            launches[launch] = {"error": f"{type(error).__name__}: {error}"[:300]}
    say("  by launch (" + MEMBERS_SWITCH + "): " + ", ".join(
        f"{k}: {v['network_steps_per_s']:.3g}/s" if "step_us" in v else f"{k}: error" for k, v in launches.items()))
    return launches


def trace_bandwidth_case(device, n, B, max_steps, budget, I=2):
    """RFLO online at n, B against the trace's traffic and a device copy of the trace's size. The trace pass is
    timed as RFLO's step minus output_only's at the same size, in the same kernel (output_only runs every phase
    of the step but the rule's: forward, readout, loss, credit); the whole step's rate is recorded too, a lower
    bound on the trace pass's."""
    x, y = online_data(max_steps, B, I=I, device=device)
    m = fit_rate(make_learner(rules.RFLO(), n, B, device), x, y, device, budget * 0.4)
    rest = fit_rate(make_learner(rules.OutputOnly(), n, B, device), x, y, device, budget * 0.3)
    step_s, rest_s = 1 / m["rate"], 1 / rest["rate"]
    numel = B * n * (n + I + 1)
    trace_bytes = 2 * numel * 4
    src = torch.ones(numel, device=device)
    dst = torch.empty_like(src)

    def copies():
        for _ in range(10):
            dst.copy_(src)

    copy_s = measure_ms(copies, device, budget * 0.3, min_repeat=5, max_repeat=20) / 1e3 / 10
    copy_gbps = trace_bytes / copy_s / 1e9
    achieved = trace_bytes / step_s / 1e9
    pass_s = step_s - rest_s
    pass_gbps = trace_bytes / pass_s / 1e9 if pass_s > 0 else None
    result = {"step_ms": step_s * 1e3, "output_only_step_ms": rest_s * 1e3,
              "trace_pass_ms": pass_s * 1e3 if pass_s > 0 else None, "trace_bytes_per_step": trace_bytes,
              "trace_pass_GBps": pass_gbps, "copy_GBps": copy_gbps,
              "fraction_of_copy_bandwidth": ratio(pass_gbps, copy_gbps) if pass_gbps else None,
              "step_GBps": achieved, "step_fraction_of_copy_bandwidth": ratio(achieved, copy_gbps),
              "steps": m["count"], "repeats": m["repeats"], "path": library_paths(),
              **({"note": m["note"]} if "note" in m else {})}
    if pass_gbps is None:
        result["note"] = "output_only's step was not shorter than RFLO's: no trace-pass time"
    pass_text = (f"trace pass {pass_s * 1e3:.3f} ms: {pass_gbps:,.0f} GB/s = {result['fraction_of_copy_bandwidth']:.3f}"
                 if pass_gbps else "trace pass: not resolved")
    say(f"  {device.type}: n={n} B={B}: RFLO {result['step_ms']:.3f} ms a step, output_only {rest_s * 1e3:.3f} ms; "
        f"trace {trace_bytes / 1e6:.0f} MB read+written; {pass_text} of a copy's {copy_gbps:,.0f} GB/s "
        f"(whole step {result['step_fraction_of_copy_bandwidth']:.3f})")
    return result


def rtrl_case(device, n, B, max_steps, budget, target=100):
    learner = make_learner(rules.RTRL(), n, B, device)
    x, y = online_data(max_steps, B, device=device)
    m = fit_rate(learner, x, y, device, budget)
    result = {"steps_per_s": m["rate"], "target_steps_per_s": target, "meets_target": m["rate"] >= target,
              "steps": m["count"], "repeats": m["repeats"], "path": library_paths(),
              **({"note": m["note"]} if "note" in m else {})}
    say(f"  {device.type}: RTRL n={n} B={B}: {m['rate']:12,.1f} steps/s (target >= {target})")
    return result


def rule_rate(rule, n, B, device, x, y, budget):
    learner = make_learner(rule, n, B, device)
    return fit_rate(learner, x.to(device), y.to(device), device, budget)["rate"]


def online_rules_case(device, n, B, max_steps, budget, variants):
    """Every rule's steps/s on device (once per value of TLR_CUDA_ONLINE in variants; None: as set) and on the
    CPU. One rule's error is recorded under its name and the others go on."""
    say(f"## online learning, every rule: n={n}, B={B}, input 2, output 2, float32; {device.type} vs the CPU op"
        + (f"; {ONLINE_SWITCH} = {', '.join(variants)}" if device.type == "cuda" and variants != [None] else ""))
    x, y = online_data(max_steps, B)
    result = {}
    for rule in ALL_RULES:
        rates, paths, errors = {}, {}, {}
        runs = [(device.type if v is None else f"{device.type}_{v}", device, v) for v in variants]
        for key, dev, variant in (runs if device.type != "cpu" else []) + [("cpu", CPU, None)]:
            try:  # each measurement on its own: one path's error leaves the others' rates
                with environment(ONLINE_SWITCH, variant) if variant is not None else contextlib.nullcontext():
                    rates[key] = rule_rate(rule, n, B, dev, x, y, budget)
                    if dev.type != "cpu":
                        paths[key] = library_paths()
            except Exception as error:  # noqa: BLE001
                errors[key] = f"{type(error).__name__}: {error}"[:2000]
                with contextlib.suppress(Exception):
                    sync(dev)
        shown = "   ".join([f"{rate:12,.0f} on {key}" for key, rate in rates.items()]
                           + [f"{key}: ERROR {message[:200]}" for key, message in errors.items()])
        say(f"  {rule.name:<12} {shown}")
        for key in [k for k in rates if k != "cpu"]:
            rates[f"{key}_over_cpu"] = ratio(rates[key], rates.get("cpu"))
        if any(paths.values()):
            rates["path"] = paths
        if errors:
            rates["error"] = errors
        result[rule.name] = rates
    return result


# ---------------------------------------------------------------------------------------------- main
FULL = {"T": 1000, "seq": [(64, 512, 64, True), (32, 256, 32, False), (1, 32, 2, False)], "seq_budget": 0.6,
        "ens": (1024, 32, 10_000, 3.0, 3.0), "trace": (1024, 64, 20, 4.0), "rtrl": (128, 16, 1000, 3.0),
        "rules": [(32, 1, 20_000, 0.3, [None]), (128, 16, 2_000, 0.3, ["block", "auto"])]}
QUICK = {"T": 50, "seq": [(4, 16, 4, True), (2, 8, 2, False)], "seq_budget": 0.05,
         "ens": (16, 8, 200, 0.2, 0.2), "trace": (64, 4, 20, 0.3), "rtrl": (16, 2, 100, 0.2),
         "rules": [(8, 1, 500, 0.03, [None]), (16, 2, 200, 0.03, ["block", "auto"])]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and budgets (a smoke test)")
    parser.add_argument("--json", default=os.path.join(ROOT, "docs", "results", "gpu_bench.json"),
                        help="where the record goes (default docs/results/gpu_bench.json)")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this string")
    parser.add_argument("--max-seconds", type=float, default=240.0,
                        help="cases not started by then are recorded as skipped (default 240)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch.cuda.is_available() is False (use --device cpu)")
    sizes = QUICK if args.quick else FULL
    record = Record(args.json, device, args)
    say(f"{record.data['device']} | torch {torch.__version__} | cuda {torch.version.cuda} | "
        f"{os.cpu_count()} CPU cores | record -> {args.json}")

    def wanted(name):
        return args.only in name

    T = sizes["T"]
    for B, n, I, stepwise in sizes["seq"]:
        if any(wanted(f"seq_{k}_B{B}_n{n}_T{T}") for k in ("forward", "rflo_step", "bptt_step")):
            sequence_cases(record, device, T, B, I, n, sizes["seq_budget"], stepwise)
    E, n, steps, budget, cpu_budget = sizes["ens"]
    name = f"online_rflo_ensemble_E{E}_n{n}"
    if wanted(name):
        say(f"## {name}: E={E} RFLO members, n={n}, B=1, input 2, output 2, float32, one OnlineEnsemble")
        record.case(name, ensemble_case, device, E, n, steps, budget, cpu_budget)
    n, B, steps, budget = sizes["trace"]
    name = f"online_rflo_n{n}_B{B}"
    if wanted(name):
        say(f"## {name}: RFLO online, input 2, output 2, float32: the trace's bandwidth")
        record.case(name, trace_bandwidth_case, device, n, B, steps, budget)
    n, B, steps, budget = sizes["rtrl"]
    name = f"online_rtrl_n{n}_B{B}"
    if wanted(name):
        say(f"## {name}: RTRL online, input 2, output 2, float32")
        record.case(name, rtrl_case, device, n, B, steps, budget)
    for n, B, steps, budget, variants in sizes["rules"]:
        name = f"online_rules_n{n}_B{B}"
        if wanted(name):
            record.case(name, online_rules_case, device, n, B, steps, budget, variants)
    record.write()
    errors = [k for k, v in record.data["cases"].items() if has_error(v)]
    say(f"## done in {time.perf_counter() - START:.1f} s: {len(record.data['cases'])} cases, "
        f"{len(errors)} with errors{': ' + ', '.join(errors) if errors else ''}; record in {args.json}")
    return 3 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
