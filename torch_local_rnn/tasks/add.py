"""The Add task (docs/algorithms.md §5.1)."""
from itertools import product
from typing import Dict, Iterator, Tuple

import torch

from .base import Chunk, Task, binary_entropy, check_int


class AddTask(Task):
    """The Add task (docs/algorithms.md §5.1, v2020 indexing; "Coin task" in the 2018-19 code).

    Samples x_s ~ Bernoulli(0.5) i.i.d., input ``[x_s, 1 - x_s]``; label probability
    ``p_s = 0.5 + 0.5 x_{s-t1} - 0.25 x_{s-t2}``, label ``[p_s, 1 - p_s]`` (``deterministic=True``,
    every paper configuration) or ``[b_s, 1 - b_s]`` with b_s ~ Bernoulli(p_s). Every sample (x and
    y) is repeated ``tau`` consecutive time steps; a stream of N steps holds ceil(N / tau) samples
    (the last one cut short when tau does not divide N). Softmax output, cross-entropy loss.

    Start of a stream: instead of the papers' circular wrap-around (np.roll, whose first labels
    depend on the stream's *last* inputs) each stream draws ``max(t1, t2)`` warm-up samples that
    are never shown as inputs. Every label is then defined by the same formula, the first
    max(t1, t2) of them depend on inputs the network never saw (a short transient, like the
    papers' wrap-around), and a stream can be generated in chunks without knowing its end.

    Draw order (what makes chunking invisible): one generator per stream set, seeded with
    ``seed``; it first draws a seed for a second generator used only for the sampled labels, then
    the warm-up samples, then the samples in time order, each time step as one row of B values.
    """

    loss = "cross_entropy"
    input_size = 2
    output_size = 2
    _fields = ("t1", "t2", "tau", "deterministic")

    def __init__(self, t1: int = 5, t2: int = 9, tau: int = 1, deterministic: bool = True):
        # integers (an integral float too), named when not: no silent int(2.5), no bare int('abc') error
        t1, t2, tau = (check_int(v, k, "AddTask") for k, v in (("t1", t1), ("t2", t2), ("tau", tau)))
        if t1 < 0 or t2 < 0:
            raise ValueError(f"AddTask: expected lags t1, t2 >= 0, but got t1={t1}, t2={t2}")
        if tau < 1:
            raise ValueError(f"AddTask: expected tau >= 1, but got {tau}")
        if isinstance(deterministic, str) or deterministic not in (True, False):
            raise ValueError(f"AddTask: expected deterministic to be a bool, but got {deterministic!r}")
        self.t1, self.t2, self.tau, self.deterministic = t1, t2, tau, bool(deterministic)
        self.history = max(t1, t2)

    @classmethod
    def difficulty(cls, d: int, **options) -> "AddTask":
        """The JMLR (P2-final) Add family, docs/algorithms.md §6.3: t1 = d + 2, t2 = d + 6, tau = 1
        (``tau`` and ``deterministic`` may be overridden through ``options``)."""
        d = check_int(d, "d", "AddTask.difficulty", 0)
        for name in ("t1", "t2"):
            if name in options:
                raise ValueError(f"AddTask.difficulty: expected no {name} (d sets it), "
                                 f"but got {name}={options[name]!r}")
        return cls(**{"t1": d + 2, "t2": d + 6, "tau": 1, **options})

    # ------------------------------------------------------------------ reference levels
    def probability(self, x_t1: float, x_t2: float) -> float:
        """p = 0.5 + 0.5 x_{s-t1} - 0.25 x_{s-t2}."""
        return 0.5 + 0.5 * x_t1 - 0.25 * x_t2

    def level(self, known: Tuple[str, ...]) -> float:
        """Expected per-step cross-entropy of the best predictor that knows the inputs at the
        lags named in ``known`` (a subset of ("t1", "t2")) and nothing else: E[H(E[p | known])].
        Exact for deterministic and sampled labels alike (the loss is linear in the label)."""
        lags = {"t1": self.t1, "t2": self.t2}
        for name in known:
            if name not in lags:
                raise ValueError(f"AddTask.level: expected names from ('t1', 't2'), but got '{name}'")
        distinct = sorted(set(lags.values()))  # t1 == t2 means one input, not two
        known_lags = {lags[name] for name in known}
        groups: Dict[Tuple[int, ...], list] = {}
        for bits in product((0, 1), repeat=len(distinct)):
            value = dict(zip(distinct, bits))
            key = tuple(value[lag] for lag in distinct if lag in known_lags)
            groups.setdefault(key, []).append(self.probability(value[self.t1], value[self.t2]))
        weight = 1.0 / len(groups)
        return sum(weight * binary_entropy(sum(ps) / len(ps)) for ps in groups.values())

    @property
    def reference_levels(self) -> Dict[str, float]:
        """Test-loss levels (nats per step): nothing learned (predict the marginal), only the t1
        dependency learned, both learned (the optimum = mean label entropy). For Add(5, 9):
        0.6616, 0.5192, 0.4545 (docs/algorithms.md §5.1; only the t2 dependency would give 0.6277)."""
        return {"nothing learned": self.level(()),
                "first dependency": self.level(("t1",)),
                "optimum": self.level(("t1", "t2"))}

    # ------------------------------------------------------------------ data
    def _chunks(self, steps: int, batch: int, chunk_size: int, g: torch.Generator, dtype: torch.dtype,
                device) -> Iterator[Chunk]:
        label_g = torch.Generator()
        label_g.manual_seed(int(torch.randint(0, 2 ** 62, (1,), generator=g)))
        # past[:, j] holds samples ..., newest last: always the `history` samples before `drawn`.
        past = torch.randint(0, 2, (self.history, batch), generator=g, dtype=torch.int64).t()
        drawn = 0  # samples drawn after the warm-up
        labels_past = torch.empty(batch, 0)  # sampled label of the sample in progress (tau > 1)
        H, tau = self.history, self.tau
        for start in range(0, steps, chunk_size):
            stop = min(steps, start + chunk_size)
            first, last = start // tau, (stop - 1) // tau  # samples touched by this chunk
            new = max(0, last + 1 - drawn)
            fresh = torch.randint(0, 2, (new, batch), generator=g, dtype=torch.int64).t()
            # seq holds samples offset .. last, which covers first - H .. last (the lags this chunk needs)
            seq = torch.cat([past, fresh], dim=1)
            offset = drawn - past.shape[1]  # sample index of seq[:, 0]
            s = torch.arange(first, last + 1)
            xs = seq[:, s - offset].float()
            p = 0.5 + 0.5 * seq[:, s - self.t1 - offset].float() - 0.25 * seq[:, s - self.t2 - offset].float()
            if self.deterministic:
                label = p
            else:
                # one Bernoulli draw per sample, in time order; the sample in progress keeps its draw
                keep = labels_past[:, : max(0, drawn - first)]
                u = torch.rand(new, batch, generator=label_g, dtype=torch.float64).t()
                label = torch.cat([keep, (u < p[:, keep.shape[1]:].double()).float()], dim=1)
                labels_past = label[:, -1:]
            drawn += new
            past = seq[:, seq.shape[1] - (H + 1):] if seq.shape[1] > H else seq
            index = torch.arange(start, stop) // tau - first  # step -> column of this chunk's samples
            xs, label = xs[:, index].t(), label[:, index].t()
            x = torch.stack([xs, 1.0 - xs], dim=-1).to(dtype=dtype, device=device)
            y = torch.stack([label, 1.0 - label], dim=-1).to(dtype=dtype, device=device)
            yield x, y
