"""CPU benchmarks of torch-local-rnn against baselines measured in the same run.

    python benchmarks/bench_cpu.py            # the issue's sizes: B=32, n=256, input 32, T=1000, float32
    python benchmarks/bench_cpu.py --quick    # small sizes, seconds

Prints each time next to torch.nn.RNN (autograd) and the pure-PyTorch reference loop
(torch_local_rnn.reference) on the same work, as ratios, and the online steps per second in the
papers' setting (n=32, B=1, input 2). Results go to BENCHMARKS.md by hand, with command and date.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

import torch_local_rnn as tlr
from torch_local_rnn import LocalRNN, OnlineLearner, reference, rules


def timeit(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(name, seconds, baselines):
    ratios = "  ".join(f"{seconds / b:6.3f}x {label}" for label, b in baselines.items())
    print(f"{name:<34} {seconds * 1e3:10.2f} ms   {ratios}")


def sequence_benchmarks(T, B, I, n, repeat):
    print(f"\n## Sequence form: T={T}, B={B}, input={I}, n={n}, float32, {torch.get_num_threads()} threads")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, I, generator=g)
    torch_rnn = torch.nn.RNN(I, n, nonlinearity="tanh")
    ours = {rule: LocalRNN(I, n, rule=rule) for rule in ("bptt", "rflo")}

    with torch.no_grad():
        nn_fwd = timeit(lambda: torch_rnn(x), repeat)
        p = ours["bptt"]
        ref_fwd = timeit(lambda: reference.leaky_rnn_forward(x, torch.zeros(B, n), p.weight_hh_l0, p.weight_ih_l0, p.bias_ih_l0,
                                                             1.0, "tanh"), max(1, repeat // 2))
        fwd = timeit(lambda: p(x), repeat)
    row("forward op", fwd, {"nn.RNN fwd": nn_fwd, "reference loop": ref_fwd})

    def nn_step():
        torch_rnn.zero_grad()
        out, _ = torch_rnn(x)
        out.sum().backward()

    nn_train = timeit(nn_step, repeat)
    for rule, module in ours.items():
        def step(module=module):
            module.zero_grad()
            out, _ = module(x)
            out.sum().backward()

        ours_train = timeit(step, repeat)
        if rule == "bptt":
            w = [p.detach().clone().requires_grad_() for p in (module.weight_hh_l0, module.weight_ih_l0, module.bias_ih_l0)]

            def ref_step():
                out = reference.leaky_rnn_forward(x, torch.zeros(B, n), *w, 1.0, "tanh")
                torch.autograd.grad(out.sum(), w)
        else:
            def ref_step():
                reference.rflo_sequence_grads(x, torch.zeros(B, n), module.weight_hh_l0.detach(),
                                              module.weight_ih_l0.detach(), module.bias_ih_l0.detach(), 1.0, "tanh",
                                              torch.ones(T, B, n), 1.0)
        ref_train = timeit(ref_step, 1)
        row(f"training step rule={rule}", ours_train, {"nn.RNN fwd+bwd": nn_train, "reference": ref_train})


def peak_rss_child(T, B, I, n):
    """Peak resident memory (bytes) that one rule='rflo' training step adds, in a fresh process:
    the kernel's high-water mark (VmHWM) is reset through /proc/self/clear_refs just before the step."""
    code = (
        "import torch, torch_local_rnn as t\n"
        "def status(key):\n"
        "    return next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith(key))\n"
        f"m = t.LocalRNN({I}, {n}, rule='rflo'); x = torch.randn({T}, {B}, {I})\n"
        "out, _ = m(x[:2]); out.sum().backward()\n"  # first call's one-off allocations
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "base = status('VmRSS:')\n"
        "out, _ = m(x); out.sum().backward()\n"
        "print(base, status('VmHWM:'))\n")
    base, peak = map(int, subprocess.check_output([sys.executable, "-c", code], text=True).split())
    return peak - base


def memory_benchmark(B, I, n, lengths):
    print(f"\n## Peak memory of one rule='rflo' training step (B={B}, n={n}), fresh process per T")
    peaks = {T: peak_rss_child(T, B, I, n) for T in lengths}
    for T, peak in peaks.items():
        print(f"T={T:5d}: peak growth {peak / 2**20:8.1f} MiB")
    slope = (peaks[lengths[-1]] - peaks[lengths[0]]) / (lengths[-1] - lengths[0])
    act = B * n * 4
    trace = B * n * (n + I + 1) * 4
    print(f"growth per time step: {slope / 1024:.1f} KiB = {slope / act:.1f} x one (B, n) float32 slice "
          f"({act / 1024:.0f} KiB); a (B, n, n+I+1) trace per step would be {trace / 2**20:.1f} MiB")


def online_benchmark(steps, ref_steps):
    print("\n## Online learning, the papers' setting: n=32, B=1, input 2, output 2, float64 (the papers' numpy)")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(steps, 1, 2, generator=g, dtype=torch.float64)
    y = torch.softmax(torch.randn(steps, 1, 2, generator=g, dtype=torch.float64), -1)
    def stateful(rule, fn):
        """A reference call on the rule's own initial state and noise (drawn as OnlineLearner draws them)."""
        def call(w, n):
            g = torch.Generator().manual_seed(1)
            st = rule.online_state(1, n, 2, outputs=2, generator=g, weight_hh=w[3], dtype=w[0].dtype)
            nu = rule.noise(w[0].shape[0], 1, n, g, dtype=w[0].dtype)
            return fn(w, st, nu[0] if nu else None)
        return call

    # (rule config, steps for the op, the reference loop on the same work with its rule-specific arguments)
    cases = [
        (rules.RFLO(), steps, lambda w, n: reference.rflo_online(*w[:3], torch.zeros(1, n, n + 3, dtype=w[0].dtype),
                                                                 *w[3:], lr=1e-4)),
        (rules.OutputOnly(), steps, lambda w, n: reference.output_only_online(*w, lr=1e-4)),
        (rules.FBPTT(21), steps // 10, lambda w, n: reference.f_bptt_online(*w, truncation=21, lr=1e-4)),
        (rules.EBPTT(20), steps // 4, lambda w, n: reference.e_bptt_online(*w, window=20, lr=1e-4)),
        (rules.RTRL(), steps // 100, lambda w, n: reference.rtrl_online(
            *w[:3], torch.zeros(1, n, n * (n + 3), dtype=w[0].dtype), *w[3:], lr=1e-4)),
    ]
    for name, rule, count in (("uoro", rules.UORO(), steps // 2), ("kf_rtrl", rules.KFRTRL(), steps // 20),
                              ("rkf_rtrl", rules.RKFRTRL(), steps // 20)):
        cases.append((rule, count, stateful(rule, lambda w, st, nu, name=name: reference.factored_online(
            name, *w[:3], st["factor_a"], st["factor_b"], *w[3:], nu, lr=1e-4))))
    kernl = rules.KeRNL()
    cases.append((kernl, steps // 2, stateful(kernl, lambda w, st, nu: reference.kernl_online(
        *w[:3], st, *w[3:], nu, sigma=kernl.sigma, lr_aux=kernl.lr, lr=1e-4))))
    for rule in (rules.DNI(), rules.DNIb(feedback="symmetric")):
        cases.append((rule, steps // 2, stateful(rule, lambda w, st, nu, rule=rule: reference.dni_online(
            *w[:3], st, *w[3:], lr_sg=rule.lr_sg, lr_j=rule.lr_j, approximate_jacobian=rule.approximate_jacobian,
            tanh_target=rule.tanh_target, lr=1e-4))))
    for rule, count, ref in cases:
        rnn = LocalRNN(2, 32, rule=rule if rule.has_sequence_form else "bptt", dtype=torch.float64)
        readout = torch.nn.Linear(32, 2).double()
        learner = OnlineLearner(rnn, readout, lr=1e-4, rule=rule)
        rate = count / timeit(lambda: learner.fit(x[:count], y[:count], chunk_size=count), 3)
        k = max(10, min(ref_steps, count // 10))
        w = (x[:k], y[:k], torch.zeros(1, 32, dtype=torch.float64), rnn.weight_hh_l0.detach(), rnn.weight_ih_l0.detach(),
             rnn.bias_ih_l0.detach(), readout.weight.detach(), readout.bias.detach())
        ref_rate = k / timeit(lambda: ref(w, 32), 1)
        print(f"{rule.name:<12} {rate:12,.0f} steps/s   reference loop {ref_rate:9,.0f} steps/s   "
              f"{rate / ref_rate:7.1f}x")


def copy_bandwidth():
    """Bytes per second of a large tensor copy (read + write), the memory-bound ceiling of a trace update."""
    src = torch.empty(64 * 2 ** 20 // 4)  # 64 MiB of float32, well beyond the caches
    dst = torch.empty_like(src)
    dst.copy_(src)
    seconds = timeit(lambda: dst.copy_(src), 7)
    return 2 * src.numel() * 4 / seconds


def bandwidth_benchmark(n, B, I, steps):
    """The O(n^2)-per-stream rules at scale: each step must read and write their (B, n, m) carried tensors
    (traces, factors) and the (n, m) recurrent weights at least once."""
    m = n + I + 1
    ceiling = copy_bandwidth()
    print(f"\n## Online O(n^2) rules at scale: n={n}, B={B}, input {I}, output 2, float32; "
          f"copy bandwidth {ceiling / 1e9:.1f} GB/s (tensor.copy_, read + write)")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(steps, B, I, generator=g)
    y = torch.softmax(torch.randn(steps, B, 2, generator=g), -1)
    bnm, nm = B * n * m * 4, n * m * 4
    # minimal traffic per step: carried (B, n, m) tensors read + written, W = [W_hh | W_ih | b] read + written
    cases = [(rules.RFLO(), 2 * bnm + 2 * nm), (rules.OutputOnly(), 2 * nm),
             (rules.UORO(), 2 * bnm + 2 * nm), (rules.KeRNL(), 2 * bnm + 2 * nm),
             (rules.DNI(), 2 * nm), (rules.DNIb(feedback="symmetric"), 2 * nm),
             (rules.EBPTT(20), 2 * nm)]
    for rule, traffic in cases:
        rnn = LocalRNN(I, n, rule=rule if rule.has_sequence_form else "bptt")
        learner = OnlineLearner(rnn, torch.nn.Linear(n, 2), lr=1e-4, rule=rule, batch_size=B)
        seconds = timeit(lambda: learner.fit(x, y, chunk_size=steps), 3) / steps
        print(f"{rule.name:<12} {1 / seconds:10,.0f} steps/s  {seconds * 1e3:8.3f} ms/step   "
              f">= {traffic / 2**20:6.2f} MiB/step   {traffic / seconds / 1e9:6.2f} GB/s = "
              f"{100 * traffic / seconds / ceiling:5.1f}% of copy bandwidth")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds), for a smoke run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, torch_local_rnn {tlr.__version__}, {platform.processor() or platform.machine()}"
          f", {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    if args.quick:
        sequence_benchmarks(T=100, B=8, I=8, n=64, repeat=2)
        memory_benchmark(B=8, I=8, n=64, lengths=[200, 400])
        online_benchmark(steps=20_000, ref_steps=500)
        bandwidth_benchmark(n=64, B=8, I=8, steps=50)
    else:
        sequence_benchmarks(T=1000, B=32, I=32, n=256, repeat=args.repeat)
        memory_benchmark(B=32, I=32, n=256, lengths=[250, 1000, 2000])
        online_benchmark(steps=200_000, ref_steps=3000)
        bandwidth_benchmark(n=256, B=32, I=32, steps=200)


if __name__ == "__main__":
    main()
