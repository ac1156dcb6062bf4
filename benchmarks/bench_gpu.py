"""GPU benchmarks of torch-local-rnn against baselines measured in the same run (scripts/gpu_check.sh runs it).

    python benchmarks/bench_gpu.py                  # CUDA, B=32, n=256, input 32, T=1000, float32
    python benchmarks/bench_gpu.py --device cpu     # same code on the CPU (smoke test without a GPU)

Times are medians over repeats after a warm-up, synchronised around each call. Baselines: torch.nn.RNN
(cuDNN) forward and forward + autograd backward; the online op against the pure-PyTorch reference loop.
"""
import argparse
import statistics
import time

import torch

from torch_local_rnn import LocalRNN, OnlineLearner, reference, rules


def timeit(fn, device, repeat):
    fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sequence(device, T, B, I, n, repeat):
    print(f"## sequence form on {device}: T={T}, B={B}, input={I}, n={n}, float32")
    x = torch.randn(T, B, I, device=device)
    torch_rnn = torch.nn.RNN(I, n).to(device)
    with torch.no_grad():
        base_fwd = timeit(lambda: torch_rnn(x), device, repeat)
    print(f"nn.RNN forward                {base_fwd * 1e3:9.2f} ms")

    def base_step():
        torch_rnn.zero_grad()
        torch_rnn(x)[0].sum().backward()

    base_train = timeit(base_step, device, repeat)
    print(f"nn.RNN forward + backward     {base_train * 1e3:9.2f} ms")
    for rule in ("bptt", "rflo"):
        module = LocalRNN(I, n, rule=rule).to(device)
        with torch.no_grad():
            fwd = timeit(lambda: module(x), device, repeat)

        def step():
            module.zero_grad()
            module(x)[0].sum().backward()

        train = timeit(step, device, repeat)
        print(f"rule={rule:<5} forward {fwd * 1e3:9.2f} ms ({fwd / base_fwd:5.2f}x nn.RNN)   "
              f"training step {train * 1e3:9.2f} ms ({train / base_train:5.2f}x nn.RNN)")


def online(device, steps, ref_steps):
    print(f"## online RFLO on {device}: n=32, B=1, input 2 (the papers' setting), float32")
    x = torch.randn(steps, 1, 2, device=device)
    y = torch.softmax(torch.randn(steps, 1, 2, device=device), -1)
    rnn = LocalRNN(2, 32, rule="rflo").to(device)
    readout = torch.nn.Linear(32, 2).to(device)
    learner = OnlineLearner(rnn, readout, lr=1e-4)
    rate = steps / timeit(lambda: learner.fit(x, y, chunk_size=steps), device, 3)
    args = (x[:ref_steps], y[:ref_steps], torch.zeros(1, 32, device=device), torch.zeros(1, 32, 35, device=device),
            rnn.weight_hh_l0.detach(), rnn.weight_ih_l0.detach(), rnn.bias_ih_l0.detach(), readout.weight.detach(),
            readout.bias.detach())
    ref_rate = ref_steps / timeit(lambda: reference.rflo_online(*args, lr=1e-4), device, 1)
    print(f"rflo_online {rate:12,.0f} steps/s ({rate / ref_rate:6.1f}x the reference loop at {ref_rate:,.0f})")


ALL_RULES = [rules.OutputOnly(), rules.RFLO(), rules.RTRL(), rules.FBPTT(21), rules.EBPTT(20), rules.UORO(),
             rules.KFRTRL(), rules.RKFRTRL(), rules.KeRNL(), rules.DNI(), rules.DNIb()]


def online_rules(device, n, B, steps, dtype=torch.float32, seconds=0.3):
    """Every rule's online op on the GPU next to the same op on the CPU, measured in the same run. Each
    measurement runs about `seconds` (at most `steps` steps), sized from a short timed call."""
    print(f"## online learning, every rule: n={n}, B={B}, input 2, output 2, {str(dtype)[6:]}; "
          f"GPU (one persistent block per call) vs the CPU op")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(steps, B, 2, generator=g).to(dtype)
    y = torch.softmax(torch.randn(steps, B, 2, generator=g), -1).to(dtype)
    for rule in ALL_RULES:
        rates = {}
        for dev in dict.fromkeys((device, torch.device("cpu"))):  # the CPU baseline once, even on --device cpu
            torch.manual_seed(1)
            rnn = LocalRNN(2, n, rule=rule if rule.has_sequence_form else "bptt", dtype=dtype)
            learner = OnlineLearner(rnn, torch.nn.Linear(n, 2).to(dtype), lr=1e-4, rule=rule, batch_size=B).to(dev)
            xs, ys = x.to(dev), y.to(dev)
            probe = timeit(lambda: learner.fit(xs[:2], ys[:2], chunk_size=2), dev, 1) / 2
            count = int(min(steps, max(2, seconds / probe)))
            rates[dev.type] = count / timeit(lambda: learner.fit(xs[:count], ys[:count], chunk_size=count), dev, 3)
        print(f"{rule.name:<12} {rates[device.type]:12,.0f} steps/s on {device.type}   "
              f"{rates['cpu']:10,.0f} on cpu   {rates[device.type] / rates['cpu']:6.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        print(torch.cuda.get_device_name(device), "| torch", torch.__version__)
    if args.quick:
        sequence(device, T=50, B=4, I=4, n=16, repeat=2)
        online(device, steps=2000, ref_steps=100)
        online_rules(device, n=16, B=2, steps=200)
    else:
        sequence(device, T=1000, B=32, I=32, n=256, repeat=args.repeat)
        online(device, steps=100_000, ref_steps=1000)
        online_rules(device, n=32, B=1, steps=20_000)
        online_rules(device, n=128, B=16, steps=2_000)


if __name__ == "__main__":
    main()
