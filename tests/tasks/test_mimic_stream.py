"""Mimic's label stream (docs/algorithms.md §5.2) against the per-step float64 loop it replaced: the target
net now runs block by block through ops.leaky_rnn_forward; the labels must equal the loop's up to rounding
(1e-12), be the same whatever the chunk size, and carry the target state across chunk and block boundaries."""
import pytest
import torch

from torch_local_rnn.tasks import MimicTask
from torch_local_rnn.tasks.base import block_items

F64 = torch.float64
CONFIGS = {
    "d0": MimicTask.difficulty(0),
    "d3": MimicTask.difficulty(3),
    "d9": MimicTask.difficulty(9, target_seed=3),
    "wide_slow": MimicTask(n_in=3, n_out=5, hidden=17, alpha=0.2, tau=3, scale=1.3, p_input=0.3, target_seed=4),
    "alpha1_tau1": MimicTask(n_in=1, n_out=1, hidden=8, alpha=1.0, tau=1, scale=0.9, target_seed=2),
}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def per_step_labels(task, x, reset_every=None):
    """The former MimicTask generation, one step at a time from a_0 = 0 (the state carried throughout;
    ``reset_every`` zeroes it every that many steps, a deliberately wrong variant)."""
    a = torch.zeros(x.shape[1], task.hidden, dtype=F64)
    y = torch.empty(x.shape[0], x.shape[1], task.n_out, dtype=F64)
    for t in range(x.shape[0]):
        if reset_every and t % reset_every == 0:
            a = torch.zeros_like(a)
        pre = torch.addmm(task.b_rec, a, task.W_rec.t()).addmm_(x[t], task.W_in.t())
        a = (1.0 - task.alpha) * a + task.alpha * torch.tanh(pre)
        torch.addmm(task.b_out, a, task.W_out.t(), out=y[t])
    return y


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_mimic_labels_match_the_per_step_loop(name, batch):
    task = CONFIGS[name]
    block = block_items(batch, task.hidden)  # steps per call of the op
    steps = 2 * block + 37  # three blocks, the last one partial
    x, y = task.generate(steps, batch, seed=7, dtype=F64)
    reference = per_step_labels(task, x)
    assert (y - reference).abs().max().item() <= 1e-12
    assert y.abs().max().item() > 1e-3 and y.std().item() > 1e-3  # not a degenerate stream
    for chunk in (1, 7, block - 1, block + 5, steps):
        xs, ys = zip(*task.stream(steps, batch, chunk_size=chunk, seed=7, dtype=F64))
        assert torch.equal(torch.cat(xs), x) and torch.equal(torch.cat(ys), y), chunk
    # the comparison sees a state that is not carried across a block boundary
    assert (per_step_labels(task, x, reset_every=block) - reference).abs().max().item() > 1e-6


def test_mimic_float32_stream_is_the_rounded_float64_stream():
    task = CONFIGS["d3"]
    x64, y64 = task.generate(300, 2, seed=1, dtype=F64)
    x32, y32 = task.generate(300, 2, seed=1)
    assert x32.dtype == y32.dtype == torch.float32
    assert torch.equal(x32, x64.float()) and torch.equal(y32, y64.float())


def test_mimic_chunks_are_fresh_tensors():
    chunks = list(CONFIGS["d3"].stream(10, 1, chunk_size=4, seed=0, dtype=F64))
    x0, y0 = chunks[0][0].clone(), chunks[1][1].clone()
    chunks[0][1].fill_(7.0)  # writing into one chunk leaves the others alone
    chunks[1][0].fill_(7.0)
    assert torch.equal(chunks[1][1], y0) and torch.equal(chunks[0][0], x0)
    assert all(t.untyped_storage().nbytes() == t.numel() * 8 for c in chunks for t in c)
