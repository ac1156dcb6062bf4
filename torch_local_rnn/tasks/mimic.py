"""The Mimic task (docs/algorithms.md §5.2): reproduce the output of a fixed random target RNN."""
from typing import Iterator, List

import torch

from .. import ops
from .base import BlockDraws, Chunk, Task, block_items, check_int, check_real


class MimicTask(Task):
    """The Mimic task ("Mimic_RNN", docs/algorithms.md §5.2, v2020 reset).

    A fixed random target RNN (tanh, leak ``alpha``, ``hidden`` units, identity output) is built
    from ``target_seed``: a torch.Generator seeded with it draws, in this order,
    ``W_in ~ N(0, 1/n_in)`` [hidden x n_in], ``W_rec = scale * Q`` with Q of the QR decomposition of
    a standard-normal [hidden x hidden] matrix (random orthogonal), ``W_out ~ N(0, 1/hidden)``
    [n_out x hidden], ``b_rec ~ N(0, 0.1^2)`` [hidden], ``b_out ~ N(0, 0.1^2)`` [n_out] (all
    float64, kept as attributes of those names).

    Inputs: every channel is an i.i.d. Bernoulli(``p_input``) sample, each sample repeated
    ``tau`` consecutive steps. Label: the target's output driven by the inputs from a_0 = 0,
        a_t = (1 - alpha) a_{t-1} + alpha tanh(W_rec a_{t-1} + W_in x_t + b_rec),
        y_t = W_out a_t + b_out,
    computed in float64 by the library's forward op (``ops.leaky_rnn_forward``) over blocks of a fixed
    number of steps, the target state carried from block to block, so the labels are the same whatever
    the chunk size (they equal a per-step float64 loop up to rounding, tests/tasks/test_mimic_stream.py).
    MSE loss.

    Draw order of a stream: the samples in time order (batch x n_in uniforms per sample, a sample
    is 1 when its uniform is < p_input), drawn from the stream's generator in blocks of a fixed
    number of samples (``BlockDraws``). No reference levels: none is exactly computable.
    """

    loss = "mse"
    _fields = ("n_in", "n_out", "hidden", "alpha", "tau", "scale", "p_input", "target_seed")

    def __init__(self, n_in: int = 2, n_out: int = 2, hidden: int = 32, alpha: float = 0.5, tau: int = 2,
                 scale: float = 1.0, p_input: float = 0.5, target_seed: int = 0):
        who = "MimicTask"
        self.n_in, self.n_out = check_int(n_in, "n_in", who, 1), check_int(n_out, "n_out", who, 1)
        self.hidden, self.tau = check_int(hidden, "hidden", who, 1), check_int(tau, "tau", who, 1)
        self.alpha = check_real(alpha, "alpha", who, 0.0, 1.0, open_low=True)
        self.scale = check_real(scale, "scale", who, 0.0)
        self.p_input = check_real(p_input, "p_input", who, 0.0, 1.0)
        self.target_seed = check_int(target_seed, "target_seed", who)
        self.input_size, self.output_size = self.n_in, self.n_out
        g = torch.Generator()
        g.manual_seed(self.target_seed)
        f64, n = torch.float64, self.hidden
        self.W_in = torch.randn(n, self.n_in, generator=g, dtype=f64) / self.n_in ** 0.5
        self.W_rec = self.scale * torch.linalg.qr(torch.randn(n, n, generator=g, dtype=f64))[0]
        self.W_out = torch.randn(self.n_out, n, generator=g, dtype=f64) / n ** 0.5
        self.b_rec = 0.1 * torch.randn(n, generator=g, dtype=f64)
        self.b_out = 0.1 * torch.randn(self.n_out, generator=g, dtype=f64)

    @classmethod
    def difficulty(cls, d: float, **options) -> "MimicTask":
        """The JMLR (P2-final) Mimic family, docs/algorithms.md §6.3: n_in = n_out = 2, target
        hidden = 32, alpha = 0.5, tau = 2, W_rec scaled by 0.5 + 0.1 d (d in 0..9 in the paper).
        ``options`` may override everything but ``scale``."""
        d = check_real(d, "d", "MimicTask.difficulty", 0.0)
        if "scale" in options:
            raise ValueError(f"MimicTask.difficulty: expected no scale (d sets it), but got scale={options['scale']!r}")
        config = {"n_in": 2, "n_out": 2, "hidden": 32, "alpha": 0.5, "tau": 2, "scale": 0.5 + 0.1 * d}
        return cls(**{**config, **options})

    def _chunks(self, steps: int, batch: int, chunk_size: int, g: torch.Generator, dtype: torch.dtype,
                device) -> Iterator[Chunk]:
        blocks = self._blocks(steps, batch, g)
        pending: List[Chunk] = []
        have = 0  # steps start .. start + have are in pending
        for start in range(0, steps, chunk_size):
            n = min(steps, start + chunk_size) - start
            while have < n:
                pending.append(next(blocks))
                have += pending[-1][0].shape[0]
            x, y = (torch.cat([p[k] for p in pending]) for k in (0, 1))
            pending, have = [(x[n:], y[n:])], have - n
            yield (x[:n].to(dtype=dtype, device=device, copy=True),
                   y[:n].to(dtype=dtype, device=device, copy=True))

    def _blocks(self, steps: int, batch: int, g: torch.Generator) -> Iterator[Chunk]:
        """(x, y) in float64 over steps 0 .. steps - 1 in blocks of a fixed number of steps (the last one
        shorter), whatever the chunk size: the target net runs over a whole block in one call of
        ops.leaky_rnn_forward (its state carried from block to block), so the labels are the same
        however the stream is chunked (a BLAS product's rounding may depend on its shapes). The last block
        ends at ``steps`` (no draws past the stream), so a longer stream's labels may differ from these
        in the last bits over that block."""
        f64, tau = torch.float64, self.tau
        draws = BlockDraws(lambda n: torch.rand(n, batch, self.n_in, generator=g, dtype=f64),
                           block_items(batch, self.n_in))
        block = block_items(batch, self.hidden)
        a = torch.zeros(batch, self.hidden, dtype=f64)
        for start in range(0, steps, block):
            stop = min(steps, start + block)
            first = start // tau
            samples = (draws.take(first, (stop - 1) // tau + 1) < self.p_input).to(f64)
            x = samples[torch.arange(start, stop) // tau - first]  # [c, batch, n_in]
            states, _ = ops.leaky_rnn_forward(x, a, self.W_rec, self.W_in, self.b_rec, self.alpha, "tanh")
            a = states[-1]
            y = torch.addmm(self.b_out, states.view(-1, self.hidden), self.W_out.t())
            yield x, y.view(stop - start, batch, self.n_out)
