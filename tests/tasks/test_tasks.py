"""The Add task (docs/algorithms.md §5.1): labels, streaming, seeds, reference levels, DataLoader; the
shared Task base, TaskStream and the task registry."""
import hashlib
import math

import pytest
import torch
from torch.utils.data import DataLoader

from torch_local_rnn.losses import per_step_loss
from torch_local_rnn import tasks
from torch_local_rnn.losses import LOSSES
from torch_local_rnn.tasks import AddTask, CopyTask, Task, TaskStream, binary_entropy, make_task


def all_samples(task, x, seed):
    """(B, history + samples): the warm-up samples (re-drawn in the documented order) and the
    samples shown in x (one per tau steps)."""
    g = torch.Generator()
    g.manual_seed(seed)
    torch.randint(0, 2 ** 62, (1,), generator=g)  # the label generator's seed
    warm = torch.randint(0, 2, (task.history, x.shape[1]), generator=g, dtype=torch.int64).t().float()
    return torch.cat([warm, x[:: task.tau, :, 0].t()], dim=1)


@pytest.mark.parametrize("t1,t2,tau", [(5, 9, 1), (2, 4, 2), (3, 5, 3), (9, 5, 1), (0, 3, 1), (4, 4, 1)])
def test_label_formula_per_sample(t1, t2, tau):
    task = AddTask(t1, t2, tau)
    x, y = task.generate(600, batch=3, seed=7)
    assert x.shape == y.shape == (600, 3, 2)
    assert torch.equal(x[..., 1], 1 - x[..., 0]) and torch.equal(y[..., 1], 1 - y[..., 0])
    seq = all_samples(task, x, 7)
    H = task.history
    for step in range(600):
        s = step // tau
        for b in range(3):
            assert x[step, b, 0] == seq[b, H + s]
            p = 0.5 + 0.5 * seq[b, H + s - t1].item() - 0.25 * seq[b, H + s - t2].item()
            assert y[step, b, 0].item() == p


def test_tau_repeats_samples():
    x, y = AddTask(5, 9, tau=4).generate(403, batch=2, seed=0)
    for start in range(0, 403, 4):
        assert (x[start:start + 4] == x[start]).all() and (y[start:start + 4] == y[start]).all()
    x1, _ = AddTask(5, 9, tau=1).generate(101, batch=2, seed=0)
    assert torch.equal(x[::4], x1)  # same samples, each shown tau steps


@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("tau", [1, 3])
def test_chunked_stream_equals_unchunked(deterministic, tau):
    task = AddTask(5, 9, tau, deterministic)
    x, y = task.generate(301, batch=4, seed=3)
    for chunk in (1, 2, 7, 50, 300, 301, 5000):
        xs, ys = zip(*task.stream(301, batch=4, chunk_size=chunk, seed=3))
        assert all(c.shape[0] == chunk for c in xs[:-1])
        assert torch.equal(torch.cat(xs), x) and torch.equal(torch.cat(ys), y)


def test_seed_reproducibility_and_independence():
    task = AddTask(5, 9)
    a = task.generate(500, batch=4, seed=11)
    b = task.generate(500, batch=4, seed=11)
    c = task.generate(500, batch=4, seed=12)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert len({tuple(a[0][:, k, 0].tolist()) for k in range(4)}) == 4  # the streams differ
    g = torch.Generator()
    g.manual_seed(11)
    assert torch.equal(task.generate(500, batch=4, generator=g)[0], a[0])
    assert abs(a[0][..., 0].mean().item() - 0.5) < 0.05


def test_sampled_labels_mean_is_p():
    soft = AddTask(5, 9, deterministic=True).generate(20_000, batch=4, seed=5)
    hard = AddTask(5, 9, deterministic=False).generate(20_000, batch=4, seed=5)
    assert torch.equal(soft[0], hard[0])  # the labels have their own generator: same inputs
    p, b = soft[1][..., 0], hard[1][..., 0]
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    for value in (0.25, 0.5, 0.75, 1.0):
        sel = p == value
        assert sel.sum() > 10_000
        assert abs(b[sel].mean().item() - value) < 0.02
    assert (b[p == 1.0] == 1.0).all()


def test_reference_levels():
    task = AddTask(5, 9)
    levels = {k: round(v, 4) for k, v in task.reference_levels.items()}
    assert levels == {"nothing learned": 0.6616, "first dependency": 0.5192, "optimum": 0.4545}
    assert round(task.level(("t2",)), 4) == 0.6277
    assert task.reference_levels == AddTask(2, 4, tau=2, deterministic=False).reference_levels
    assert binary_entropy(0.5) == pytest.approx(math.log(2)) and binary_entropy(1.0) == 0.0


def test_reference_levels_match_the_data():
    """The ideal predictors' losses on a generated stream equal the analytic levels."""
    task = AddTask(5, 9)
    x, y = task.generate(50_000, batch=2, seed=2)
    xs, H = all_samples(task, x, 2), task.history
    x1 = xs[:, H - task.t1:xs.shape[1] - task.t1].t()
    x2 = xs[:, H - task.t2:xs.shape[1] - task.t2].t()

    def loss_of(q):
        return per_step_loss(torch.stack([q, 1 - q], -1).log(), y, task.loss).mean().item()

    levels = task.reference_levels
    assert loss_of(torch.full_like(x1, 0.625)) == pytest.approx(levels["nothing learned"], abs=3e-3)
    assert loss_of(0.375 + 0.5 * x1) == pytest.approx(levels["first dependency"], abs=3e-3)
    assert loss_of(0.5 + 0.5 * x1 - 0.25 * x2) == pytest.approx(levels["optimum"], abs=3e-3)


@pytest.mark.parametrize("workers", [0, 2])
def test_iterable_dataset_in_dataloader(workers):
    task = AddTask(5, 9, tau=2)
    dataset = task.dataset(1234, batch=3, chunk_size=100, seed=4)
    assert isinstance(dataset, TaskStream) and len(dataset) == 13
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    chunks = list(loader)
    assert len(chunks) == 13 and chunks[0][0].shape == (100, 3, 2) and chunks[-1][0].shape == (34, 3, 2)
    x, y = task.generate(1234, batch=3, seed=4)
    assert torch.equal(torch.cat([c[0] for c in chunks]), x)
    assert torch.equal(torch.cat([c[1] for c in chunks]), y)
    again = list(DataLoader(dataset, batch_size=None))  # iterating again restarts the same stream
    assert torch.equal(torch.cat([c[0] for c in again]), x)


def test_arguments_checked():
    with pytest.raises(ValueError, match="tau"):
        AddTask(5, 9, tau=0)
    with pytest.raises(ValueError, match="lags"):
        AddTask(-1, 9)
    with pytest.raises(ValueError, match="chunk_size"):
        AddTask().stream(10, chunk_size=0)
    with pytest.raises(ValueError, match="either seed or generator"):
        AddTask().stream(10, seed=1, generator=torch.Generator())
    x, y = AddTask().generate(0, batch=2)
    assert x.shape == (0, 2, 2)
    assert AddTask().generate(5, dtype=torch.float64)[0].dtype == torch.float64


@pytest.mark.parametrize("args,kwargs,digest", [
    ((5, 9, 1, True), dict(steps=1000, batch=3, seed=0),
     "59d28576dff9a2b37b8a60c5972570372f80903bd27878ba32d9fb1e1f742813"),
    ((2, 4, 2, False), dict(steps=777, batch=2, seed=5),
     "8d2aeb22bc2ca081e9d46befd324e39ce79f1ffe9239ef8591d3dffbeb29e3b7"),
    ((3, 5, 3, True), dict(steps=500, batch=1, seed=None),
     "0bdeeda6d69090191c8cc7770cea0659c93e7a0547a341b65223c0d477978415"),
])
def test_add_streams_pinned(args, kwargs, digest):
    """Byte-identical to the streams of the first implementation (a change of the draw order
    would silently change every stored experiment)."""
    x, y = AddTask(*args).generate(**kwargs)
    assert hashlib.sha256(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest() == digest


def test_add_repr_and_base():
    task = AddTask()
    assert repr(task) == "AddTask(t1=5, t2=9, tau=1, deterministic=True)"
    assert isinstance(task, Task) and (task.loss, task.input_size, task.output_size) == ("cross_entropy", 2, 2)


def test_add_difficulty_family():
    for d in range(10):
        task = AddTask.difficulty(d)
        assert (task.t1, task.t2, task.tau, task.deterministic) == (d + 2, d + 6, 1, True)
    assert AddTask.difficulty(3).reference_levels == AddTask(5, 9).reference_levels
    assert AddTask.difficulty(0, tau=2).tau == 2
    with pytest.raises(ValueError, match="expected d to be an integer >= 0, but got -1"):
        AddTask.difficulty(-1)
    with pytest.raises(ValueError, match="t1"):
        AddTask.difficulty(1, t1=3)


def test_registry_and_make_task():
    assert set(tasks.TASKS) == {"add", "mimic", "copy", "flip_flop", "dms", "sine"}
    for name, cls in tasks.TASKS.items():
        task = make_task(name)
        assert type(task) is cls and isinstance(task, Task) and task.loss in LOSSES
        x, y = task.generate(5, batch=2)
        assert x.shape == (5, 2, task.input_size) and y.shape == (5, 2, task.output_size)
    assert make_task("add", t1=2, t2=4, tau=2).t2 == 4
    assert make_task("copy", length=2, symbols=3).input_size == 4
    with pytest.raises(ValueError, match=r"expected name to be one of \['add', .*but got 'adder'"):
        make_task("adder")
    with pytest.raises(ValueError, match=r"options of 'flip_flop' \(FlipFlopTask\) among \['bits', 'p'\], "
                                         r"but got \['t1'\]"):
        make_task("flip_flop", t1=3)
    with pytest.raises(ValueError, match="expected bits to be an integer >= 1, but got 0"):
        make_task("flip_flop", bits=0)


def test_task_stream_is_generic():
    task = CopyTask(length=2, symbols=3, delay=1)
    dataset = TaskStream(task, 20, batch=2, chunk_size=6, seed=1)
    chunks = list(DataLoader(dataset, batch_size=None))
    assert (dataset.input_size, dataset.output_size) == (4, 4) and len(chunks) == len(dataset) == 4
    assert chunks[0][0].shape == (6, 2, 4) and chunks[-1][1].shape == (2, 2, 4)
    x, y = task.generate(20, batch=2, seed=1)
    assert torch.equal(torch.cat([c[0] for c in chunks]), x) and torch.equal(torch.cat([c[1] for c in chunks]), y)
    with pytest.raises(ValueError, match="expected task to be a Task, but got str"):
        TaskStream("add", 10)
    with pytest.raises(ValueError, match="expected chunk_size to be an integer >= 1, but got 0"):
        TaskStream(task, 10, chunk_size=0)


def test_stream_arguments_named():
    task = AddTask()
    for kwargs, message in [({"steps": -1}, "expected steps to be an integer >= 0, but got -1"),
                            ({"steps": 3, "batch": 0}, "expected batch to be an integer >= 1, but got 0"),
                            ({"steps": 2.5}, "expected steps to be an integer >= 0, but got 2.5"),
                            ({"steps": 3, "dtype": torch.int32}, "expected dtype to be a floating-point"),
                            ({"steps": 3, "seed": "x"}, "expected seed to be an integer, but got 'x'"),
                            ({"steps": 3, "generator": 1}, "expected generator to be a torch.Generator, but got int"),
                            ({"steps": 3, "device": "nodevice"}, "expected device")]:
        with pytest.raises(ValueError, match=message):
            task.stream(**kwargs)
    assert [c[0].shape[0] for c in task.stream(10.0, chunk_size=4.0)] == [4, 4, 2]  # integral floats are fine
