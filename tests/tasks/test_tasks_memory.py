"""The memory / dynamics tasks: Mimic (docs/algorithms.md §5.2), copy, N-bit flip-flop, delayed
match-to-sample and sine-wave generation. Labels and reference levels are recomputed here
independently (plain loops, closed forms derived here, Monte-Carlo estimates)."""
import math
import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader

from helpers import same_package_env
from torch_local_rnn.losses import LOSSES, per_step_loss
from torch_local_rnn.tasks import (CopyTask, DelayedMatchToSampleTask, FlipFlopTask, MimicTask, SineWaveTask, Task,
                                   TaskStream, binary_entropy)

TASKS = {
    "mimic": MimicTask(),
    "mimic_d3_tau1": MimicTask.difficulty(3, tau=1, p_input=0.3, target_seed=5),
    "copy": CopyTask(),
    "copy_small": CopyTask(length=3, symbols=2, delay=0),
    "flip_flop": FlipFlopTask(),
    "flip_flop_2bit": FlipFlopTask(bits=2, p=0.3),
    "dms": DelayedMatchToSampleTask(),
    "dms_3": DelayedMatchToSampleTask(stimuli=3, delay=2, stimulus_steps=2, report_steps=2, p_match=0.3),
    "sine": SineWaveTask(),
    "sine_short": SineWaveTask(trial_length=17, f_min=0.02, f_max=0.1, amplitude=0.5),
}
NAMES = sorted(TASKS)


@pytest.fixture(autouse=True)
def _one_thread():
    """The streams are generated with small tensor ops; on a loaded 2-core machine the intra-op
    thread pool makes them orders of magnitude slower (the values do not depend on it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def steps_for(task, small=203, large=503):
    return small if isinstance(task, MimicTask) else large  # Mimic: test_mimic_stream.py covers long streams


# ---------------------------------------------------------------------------------------------- generic
@pytest.mark.parametrize("name", NAMES)
def test_chunking_is_invisible(name):
    task = TASKS[name]
    steps = steps_for(task)
    x, y = task.generate(steps, batch=3, seed=5)
    for chunk in (1, 7, 1000):
        xs, ys = zip(*task.stream(steps, batch=3, chunk_size=chunk, seed=5))
        assert all(c.shape[0] == chunk for c in xs[:-1]) and sum(c.shape[0] for c in xs) == steps
        assert torch.equal(torch.cat(xs), x) and torch.equal(torch.cat(ys), y), chunk


@pytest.mark.parametrize("name", NAMES)
def test_seeds(name):
    task = TASKS[name]
    steps = steps_for(task)
    a = task.generate(steps, batch=4, seed=11)
    b = task.generate(steps, batch=4, seed=11)
    c = task.generate(steps, batch=4, seed=12)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[1], c[1])
    assert len({a[0][:, k].numpy().tobytes() for k in range(4)}) == 4  # the batch's streams differ
    g = torch.Generator()
    g.manual_seed(11)
    from_generator = task.generate(steps, batch=4, generator=g)
    assert torch.equal(from_generator[0], a[0]) and torch.equal(from_generator[1], a[1])
    default = task.generate(10, batch=2)
    assert torch.equal(default[0], task.generate(10, batch=2, seed=0)[0])  # no seed = seed 0


@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtypes_and_attributes(name):
    task = TASKS[name]
    assert isinstance(task, Task) and task.loss in LOSSES
    assert isinstance(task.input_size, int) and isinstance(task.output_size, int)
    x, y = task.generate(23, batch=2, seed=0)
    assert x.shape == (23, 2, task.input_size) and y.shape == (23, 2, task.output_size)
    assert x.dtype == y.dtype == torch.float32
    x64, y64 = task.generate(23, batch=2, seed=0, dtype=torch.float64, device="cpu")
    assert x64.dtype == y64.dtype == torch.float64 and x64.device.type == "cpu"
    assert torch.equal(x64.float(), x) and torch.equal(y64.float(), y)
    empty = task.generate(0, batch=3)
    assert empty[0].shape == (0, 3, task.input_size) and empty[1].shape == (0, 3, task.output_size)
    assert isinstance(task.reference_levels, dict)
    assert repr(task).startswith(type(task).__name__ + "(")
    if task.loss == "cross_entropy":  # labels are distributions
        assert torch.allclose(y.sum(-1), torch.ones(23, 2)) and (y >= 0).all()


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("name", ["copy", "flip_flop", "dms", "sine", "mimic"])
def test_dataloader(name, workers):
    task = TASKS[name]
    dataset = task.dataset(250, batch=3, chunk_size=40, seed=4)
    assert isinstance(dataset, TaskStream) and len(dataset) == 7
    assert (dataset.input_size, dataset.output_size) == (task.input_size, task.output_size)
    chunks = list(DataLoader(dataset, batch_size=None, num_workers=workers))
    assert len(chunks) == 7 and chunks[0][0].shape == (40, 3, task.input_size)
    assert chunks[-1][1].shape == (10, 3, task.output_size)
    x, y = task.generate(250, batch=3, seed=4)
    assert torch.equal(torch.cat([c[0] for c in chunks]), x) and torch.equal(torch.cat([c[1] for c in chunks]), y)


BAD = [
    (MimicTask, {"n_in": 0}, "n_in", "0"),
    (MimicTask, {"hidden": 2.5}, "hidden", "2.5"),
    (MimicTask, {"alpha": 0.0}, "alpha", "0.0"),
    (MimicTask, {"alpha": 1.5}, "alpha", "1.5"),
    (MimicTask, {"tau": 0}, "tau", "0"),
    (MimicTask, {"scale": -1.0}, "scale", "-1.0"),
    (MimicTask, {"p_input": float("nan")}, "p_input", "nan"),
    (MimicTask, {"target_seed": "a"}, "target_seed", "'a'"),
    (CopyTask, {"length": 0}, "length", "0"),
    (CopyTask, {"symbols": 1}, "symbols", "1"),
    (CopyTask, {"delay": -1}, "delay", "-1"),
    (FlipFlopTask, {"bits": 0}, "bits", "0"),
    (FlipFlopTask, {"p": 1.5}, "p", "1.5"),
    (FlipFlopTask, {"bits": True}, "bits", "True"),
    (DelayedMatchToSampleTask, {"stimuli": 1}, "stimuli", "1"),
    (DelayedMatchToSampleTask, {"report_steps": 0}, "report_steps", "0"),
    (DelayedMatchToSampleTask, {"stimulus_steps": 0}, "stimulus_steps", "0"),
    (DelayedMatchToSampleTask, {"p_match": -0.1}, "p_match", "-0.1"),
    (SineWaveTask, {"trial_length": 0}, "trial_length", "0"),
    (SineWaveTask, {"f_min": 0.0}, "f_min", "0.0"),
    (SineWaveTask, {"f_min": 0.2, "f_max": 0.1}, "f_max", "0.1"),
    (SineWaveTask, {"f_max": 0.6}, "f_max", "0.6"),
    (SineWaveTask, {"amplitude": 0}, "amplitude", "0"),
]


@pytest.mark.parametrize("cls,kwargs,name,value", BAD, ids=[f"{c.__name__}-{n}" for c, _, n, _ in BAD])
def test_bad_constructor_arguments(cls, kwargs, name, value):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert f"expected {name} " in message and f"but got {value}" in message and cls.__name__ in message


@pytest.mark.parametrize("name", ["copy", "flip_flop", "dms", "sine", "mimic"])
def test_bad_stream_arguments(name):
    task = TASKS[name]
    for kwargs, fragment in [({"steps": -1}, "steps"), ({"steps": 10, "batch": 0}, "batch"),
                             ({"steps": 10, "chunk_size": 0}, "chunk_size"),
                             ({"steps": 10, "dtype": torch.int64}, "dtype"),
                             ({"steps": 10, "seed": 1, "generator": torch.Generator()}, "either seed or generator"),
                             ({"steps": 10, "generator": 3}, "generator")]:
        with pytest.raises(ValueError, match=fragment):
            task.stream(**kwargs)


@pytest.mark.slow  # 4 x 10^6 steps in a subprocess
def test_memory_is_per_chunk(tmp_path):
    """10^6 steps of B = 16 streams (192 MB to 640 MB per task if held whole) stream in O(chunk)."""
    script = (
        "import resource, torch\n"
        "torch.set_num_threads(1)\n"
        "from torch_local_rnn.tasks import make_task\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for name in ['flip_flop', 'copy', 'dms', 'sine']:\n"
        "    n = sum(x.shape[0] for x, y in make_task(name).stream(10**6, batch=16, chunk_size=1000))\n"
        "    assert n == 10**6, n\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=same_package_env(),
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < 64  # MB of peak-memory growth


# ---------------------------------------------------------------------------------------------- Mimic
def target_weights(task):
    """The target net re-drawn in the documented order."""
    g = torch.Generator()
    g.manual_seed(task.target_seed)
    n, f64 = task.hidden, torch.float64
    W_in = torch.randn(n, task.n_in, generator=g, dtype=f64) / math.sqrt(task.n_in)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=f64))
    W_out = torch.randn(task.n_out, n, generator=g, dtype=f64) / math.sqrt(n)
    b_rec = torch.randn(n, generator=g, dtype=f64) * 0.1
    b_out = torch.randn(task.n_out, generator=g, dtype=f64) * 0.1
    return W_in, task.scale * q, W_out, b_rec, b_out


@pytest.mark.parametrize("name", ["mimic", "mimic_d3_tau1"])
def test_mimic_labels_are_the_target_net(name):
    task = TASKS[name]
    W_in, W_rec, W_out, b_rec, b_out = target_weights(task)
    for mine, theirs in zip((W_in, W_rec, W_out, b_rec, b_out),
                            (task.W_in, task.W_rec, task.W_out, task.b_rec, task.b_out)):
        assert torch.allclose(mine, theirs, rtol=0, atol=1e-12)
    q = W_rec / task.scale
    assert torch.allclose(q.t() @ q, torch.eye(task.hidden, dtype=torch.float64), atol=1e-12)
    x, y = task.generate(150, batch=2, seed=3, dtype=torch.float64)
    for b in range(2):
        a = torch.zeros(task.hidden, dtype=torch.float64)
        for t in range(150):
            a = (1 - task.alpha) * a + task.alpha * torch.tanh(W_rec @ a + W_in @ x[t, b] + b_rec)
            assert torch.allclose(y[t, b], W_out @ a + b_out, rtol=0, atol=1e-10)


def test_mimic_inputs():
    task = MimicTask(n_in=3, tau=3, p_input=0.3)
    x, _ = task.generate(3001, batch=2, seed=1)
    assert set(x.unique().tolist()) == {0.0, 1.0}
    for start in range(0, 3001, 3):
        assert (x[start:start + 3] == x[start]).all()
    assert abs(x.mean().item() - 0.3) < 0.025
    # the inputs come from the stream seed only: another target, the same inputs
    other = MimicTask(n_in=3, tau=3, p_input=0.3, target_seed=1)
    x2, y2 = other.generate(300, batch=2, seed=1)
    assert torch.equal(x2, x[:300]) and not torch.equal(y2, task.generate(300, batch=2, seed=1)[1])


def test_mimic_difficulty_family():
    for d in range(10):
        task = MimicTask.difficulty(d)
        assert (task.n_in, task.n_out, task.hidden, task.alpha, task.tau) == (2, 2, 32, 0.5, 2)
        assert task.scale == pytest.approx(0.5 + 0.1 * d)
        spectrum = torch.linalg.eigvals(task.W_rec).abs()
        assert torch.allclose(spectrum, torch.full_like(spectrum, 0.5 + 0.1 * d), atol=1e-9)
    assert MimicTask.difficulty(2, target_seed=7).target_seed == 7
    with pytest.raises(ValueError, match="scale"):
        MimicTask.difficulty(2, scale=1.0)
    with pytest.raises(ValueError, match="expected d .* but got -1"):
        MimicTask.difficulty(-1)
    defaults = MimicTask()
    assert (defaults.n_in, defaults.n_out, defaults.hidden, defaults.alpha, defaults.tau, defaults.scale) == \
        (2, 2, 32, 0.5, 2, 1.0)
    assert defaults.loss == "mse" and defaults.reference_levels == {}


# ---------------------------------------------------------------------------------------------- flip-flop
def test_flip_flop_labels_are_the_last_pulse():
    task = FlipFlopTask(bits=3, p=0.1)
    x, y = task.generate(400, batch=3, seed=2)
    assert set(x.unique().tolist()) <= {-1.0, 0.0, 1.0}
    for b in range(3):
        for k in range(3):
            last = 0.0
            for t in range(400):
                if x[t, b, k] != 0:
                    last = x[t, b, k].item()
                assert y[t, b, k].item() == last


def test_flip_flop_pulse_statistics():
    x, _ = FlipFlopTask(bits=2, p=0.2).generate(50_000, batch=2, seed=0)
    assert abs((x != 0).float().mean().item() - 0.2) < 0.005
    assert abs((x == 1).float().mean().item() - 0.1) < 0.005
    assert (FlipFlopTask(p=0.0).generate(100, 2)[0] == 0).all()


def test_flip_flop_reference_levels():
    task = FlipFlopTask(bits=3, p=0.05)
    assert task.reference_levels == {"predict zero": 0.5, "optimum": 0.0}
    # exact finite-stream expectation: derived here as a sum over steps
    n = 60
    expected = sum(0.5 * (1 - (1 - task.p) ** (t + 1)) for t in range(n)) / n
    assert task.zero_prediction_loss(n) == pytest.approx(expected, rel=1e-12)
    _, y = task.generate(n, batch=4000, seed=1)
    zero = per_step_loss(torch.zeros_like(y), y, task.loss)
    assert zero.mean().item() == pytest.approx(expected, abs=0.01)
    _, y = task.generate(20_000, batch=16, seed=2)
    assert per_step_loss(torch.zeros_like(y), y, "mse")[200:].mean().item() == pytest.approx(0.5, abs=1e-3)
    assert per_step_loss(y, y, "mse").max().item() == 0.0


# ---------------------------------------------------------------------------------------------- copy
@pytest.mark.parametrize("name", ["copy", "copy_small"])
def test_copy_trials(name):
    task = TASKS[name]
    L, S, D = task.length, task.symbols, task.delay
    T = 2 * L + D + 1
    assert task.trial_length == T and task.input_size == task.output_size == S + 1
    x, y = task.generate(7 * T + 3, batch=2, seed=6)  # ends inside a trial
    blank = torch.zeros(S + 1)
    blank[S] = 1
    cue = blank
    for b in range(2):
        for t0 in range(0, x.shape[0], T):
            trial_x, trial_y = x[t0:t0 + T, b], y[t0:t0 + T, b]
            shown = []
            for pos in range(trial_x.shape[0]):
                if pos < L:
                    assert trial_x[pos, S] == 0 and trial_x[pos].sum() == 1
                    shown.append(int(trial_x[pos].argmax()))
                    expected_y = blank
                elif pos == L + D:
                    assert torch.equal(trial_x[pos], cue)
                    expected_y = blank
                else:
                    assert (trial_x[pos] == 0).all()
                    expected_y = blank
                    if pos > L + D:
                        expected_y = torch.zeros(S + 1)
                        expected_y[shown[pos - L - D - 1]] = 1
                assert torch.equal(trial_y[pos], expected_y), (b, t0, pos)


def test_copy_symbols_uniform():
    task = CopyTask(length=4, symbols=3, delay=1)
    x, _ = task.generate(task.trial_length * 5000, batch=1, seed=0)
    frequencies = x[..., :3].sum((0, 1)) / x[..., :3].sum()
    assert torch.allclose(frequencies, torch.full((3,), 1 / 3), atol=0.01)


@pytest.mark.parametrize("name", ["copy", "copy_small"])
def test_copy_reference_levels(name):
    task = TASKS[name]
    L, S, T = task.length, task.symbols, task.trial_length
    levels = task.reference_levels
    assert set(levels) == {"nothing learned", "trial structure", "optimum"}
    steps = 2000 * T
    x, y = task.generate(steps, batch=2, seed=1, dtype=torch.float64)
    pos = torch.arange(steps) % T
    recall = (pos > T - L - 1)[:, None, None]
    big = 1e9
    # knows the recall window, not the symbols: uniform over the symbols there, blank elsewhere
    structure = torch.full_like(y, -big)
    structure[..., :S] = torch.where(recall, 0.0, -big)
    structure[..., S] = torch.where(recall[..., 0], -big, 0.0)
    loss = per_step_loss(structure, y, task.loss).mean().item()
    assert loss == pytest.approx(L * math.log(S) / T, rel=1e-9)  # closed form: L recall steps of log S per trial
    assert levels["trial structure"] == pytest.approx(loss, rel=1e-9)
    # class frequencies
    marginal = (y.mean((0, 1))).log().expand_as(y)
    assert levels["nothing learned"] == pytest.approx(per_step_loss(marginal, y, task.loss).mean().item(), abs=3e-3)
    assert per_step_loss(big * (y - 1), y, task.loss).max().item() == 0.0 == levels["optimum"]


# ---------------------------------------------------------------------------------------------- DMS
@pytest.mark.parametrize("name", ["dms", "dms_3"])
def test_dms_trials(name):
    task = TASKS[name]
    S, P, D, R = task.stimuli, task.stimulus_steps, task.delay, task.report_steps
    T = 2 * P + D + R
    assert task.trial_length == T and task.input_size == S + 1 and task.output_size == 2
    x, y = task.generate(300 * T, batch=3, seed=8)
    matches, pairs = 0, {}
    for b in range(3):
        for t0 in range(0, x.shape[0], T):
            trial_x, trial_y = x[t0:t0 + T, b], y[t0:t0 + T, b]
            sample, test = int(trial_x[0].argmax()), int(trial_x[P + D].argmax())
            for pos in range(T):
                one_hot = torch.zeros(S + 1)
                if pos < P:
                    one_hot[sample] = 1
                elif P + D <= pos < 2 * P + D:
                    one_hot[test] = 1
                elif pos >= 2 * P + D:
                    one_hot[S] = 1
                assert torch.equal(trial_x[pos], one_hot)
                label = torch.tensor([0.5, 0.5])
                if pos >= 2 * P + D:
                    label = torch.tensor([1.0, 0.0]) if sample == test else torch.tensor([0.0, 1.0])
                assert torch.equal(trial_y[pos], label)
            matches += sample == test
            pairs[sample, test] = pairs.get((sample, test), 0) + 1
    trials = 3 * 300
    assert abs(matches / trials - task.p_match) < 0.06
    assert {s for s, _ in pairs} == set(range(S))
    if S == 3:  # a non-matching test is uniform over the other stimuli
        for s in range(S):
            others = [pairs.get((s, t), 0) for t in range(S) if t != s]
            assert min(others) > 0.6 * max(others)


@pytest.mark.parametrize("name", ["dms", "dms_3"])
def test_dms_reference_levels(name):
    task = TASKS[name]
    T, R, P, D = task.trial_length, task.report_steps, task.stimulus_steps, task.delay
    levels = task.reference_levels
    assert set(levels) == {"chance", "trial structure", "optimum"}
    steps = 5000 * T
    _, y = task.generate(steps, batch=2, seed=3, dtype=torch.float64)
    report = ((torch.arange(steps) % T) >= 2 * P + D)[:, None]
    chance = per_step_loss(torch.zeros_like(y), y, task.loss).mean().item()
    assert chance == pytest.approx(math.log(2), rel=1e-9) and levels["chance"] == pytest.approx(chance, rel=1e-9)
    prior = torch.tensor([task.p_match, 1 - task.p_match], dtype=torch.float64)
    structure = torch.where(report[..., None], prior.log(), torch.zeros_like(y))
    estimate = per_step_loss(structure, y, task.loss).mean().item()
    assert levels["trial structure"] == pytest.approx(estimate, abs=5e-3)
    optimum = per_step_loss(y.clamp_min(1e-300).log(), y, task.loss).mean().item()
    assert optimum == pytest.approx((T - R) / T * math.log(2), rel=1e-9)  # only the fixation steps cost
    assert levels["optimum"] == pytest.approx(optimum, rel=1e-9)
    h = -task.p_match * math.log(task.p_match) - (1 - task.p_match) * math.log(1 - task.p_match)
    assert binary_entropy(task.p_match) == pytest.approx(h)


# ---------------------------------------------------------------------------------------------- sine
@pytest.mark.parametrize("name", ["sine", "sine_short"])
def test_sine_trials(name):
    task = TASKS[name]
    T = task.trial_length
    x, y = task.generate(40 * T + 5, batch=2, seed=4, dtype=torch.float64)
    freqs = []
    for b in range(2):
        for t0 in range(0, x.shape[0], T):
            f = x[t0, b, 0].item() * task.f_max
            assert task.f_min - 1e-12 <= f <= task.f_max + 1e-12
            freqs.append(f)
            for k in range(min(T, x.shape[0] - t0)):
                assert x[t0 + k, b, 0].item() == x[t0, b, 0].item()
                assert x[t0 + k, b, 1].item() == (1.0 if k == 0 else 0.0)
                assert y[t0 + k, b, 0].item() == pytest.approx(task.amplitude * math.sin(2 * math.pi * f * k),
                                                               abs=1e-9)
    assert len(set(freqs)) == len(freqs)  # a fresh frequency per trial and stream
    many = task.generate(T * 4000, batch=1, seed=0, dtype=torch.float64)[0][::T, 0, 0] * task.f_max
    assert many.mean().item() == pytest.approx((task.f_min + task.f_max) / 2, abs=0.03 * (task.f_max - task.f_min))
    assert many.min().item() >= task.f_min and many.max().item() <= task.f_max


@pytest.mark.parametrize("name", ["sine", "sine_short"])
def test_sine_reference_levels(name):
    task = TASKS[name]
    T, A = task.trial_length, task.amplitude
    levels = task.reference_levels
    assert set(levels) == {"predict zero", "optimum"} and levels["optimum"] == 0.0
    # E_f[sin^2] by a midpoint rule over f
    grid = 200_000
    f = task.f_min + (torch.arange(grid, dtype=torch.float64) + 0.5) / grid * (task.f_max - task.f_min)
    k = torch.arange(T, dtype=torch.float64)
    numeric = 0.5 * A ** 2 * torch.sin(2 * math.pi * f[:, None] * k).pow(2).mean().item()
    assert levels["predict zero"] == pytest.approx(numeric, rel=1e-6)
    _, y = task.generate(T * 200, batch=50, seed=2, dtype=torch.float64)
    monte_carlo = per_step_loss(torch.zeros_like(y), y, task.loss).mean().item()
    assert levels["predict zero"] == pytest.approx(monte_carlo, rel=0.03)
    fixed = SineWaveTask(trial_length=10, f_min=0.05, f_max=0.05)
    expected = 0.5 * sum(math.sin(2 * math.pi * 0.05 * k) ** 2 for k in range(10)) / 10
    assert fixed.reference_levels["predict zero"] == pytest.approx(expected, rel=1e-12)
