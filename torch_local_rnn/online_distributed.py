"""Data-parallel online learning (docs/algorithms.md §2.9): W ranks of B streams each, on shared weights.

sync_every = 1 (the default, fused path): every step each rank runs the op with optimizer "none", which
captures the step's gradients of W_hh, W_ih, b, W_out, b_out (the mean over its B streams) and leaves the
weights; one all-reduce averages them (and the rule's learned auxiliary weights, KeRNL's A and rates, DNI's
apical weights, which each rank moved by its own streams' mean) over the ranks; online_optimizer_step then
applies the learner's optimiser. The mean of W rank means of B streams is the mean over W B streams, so the
run equals one process with W B streams (to rounding). Cost per step: one all-reduce of
n (n + I + 1) + O (n + 1) (+ the learned weights) values, plus one op call per step instead of one per chunk.

sync_every = k > 1, or a general readout: each rank runs k steps on its own, then the weights, the optimiser
states and the learned auxiliary weights are averaged (local SGD: cheaper, not equal to one process).

Checkpoints: state_dict() is a collective that gathers every rank's streams (hidden, traces: concatenated along
their stream dimension, in rank order) and generator states, so rank 0's state_dict is the whole run's, and
load_state_dict on every rank takes its own streams back from it.
"""
import numbers
from typing import List

import torch
from torch import Tensor

from . import ops

# The state_dict key of every rank's generator state (W, S), in a gathered checkpoint.
RANK_RNG = "rank_rng_states"


class DataParallelSync:
    """The learner's link to a torch.distributed process group (a plain object: the learner owns it)."""

    def __init__(self, learner, process_group, sync_every: int):
        import torch.distributed as dist
        if isinstance(sync_every, bool) or not isinstance(sync_every, numbers.Integral) or sync_every <= 0:
            raise ValueError(f"OnlineLearner: expected sync_every to be a positive integer, but got {sync_every!r}")
        if not dist.is_available() or not dist.is_initialized():
            raise ValueError("OnlineLearner: process_group needs an initialised torch.distributed (init_process_group, "
                             "e.g. under torchrun), but torch.distributed is not initialised")
        self.learner, self.group, self.sync_every = learner, process_group, int(sync_every)
        self.world = dist.get_world_size(process_group)
        self.exact = self.sync_every == 1 and learner.general is None
        self._check_sizes()
        if self.exact:
            rnn = learner.rnn
            numel = ops.optimizer_state_numel("none", rnn.hidden_size, rnn.input_size, learner._op_outputs)
            self.grads = torch.zeros(numel, dtype=learner.hidden.dtype, device=learner.hidden.device)
        self._broadcast_shared()  # every rank starts from rank 0's weights
        self.rank = dist.get_rank(process_group)
        self._stream_dims = self._find_stream_dims()
        self._reseed_per_rank()

    def _find_stream_dims(self):
        """Buffer name -> the dimension that holds the streams (hidden's 0; the rule state's from its shapes at
        one and two streams); the buffers shared by all streams have none."""
        learner = self.learner
        rnn = learner.rnn
        options, alpha = learner.rule.online_options(rnn.alpha), rnn.alpha
        shapes = [ops.rule_state_shapes(learner.rule.name, options, alpha, b, rnn.hidden_size, rnn.input_size,
                                        learner._op_outputs) for b in (1, 2)]
        dims = {"hidden": 0}
        for name in learner._state_names:
            differ = [d for d, (p, q) in enumerate(zip(shapes[0][name], shapes[1][name])) if p != q]
            if differ:
                dims[name] = differ[0]
        return dims

    def _reseed_per_rank(self) -> None:
        """Each rank draws its own noise (the stochastic rules): rank 0's generator, broadcast, then seeded anew
        from its first draw plus the rank."""
        dist, learner = self._dist(), self.learner
        state = learner.rng_state.clone()
        dist.broadcast(state, src=self._src(), group=self.group)
        g = torch.Generator()
        g.set_state(state)
        base = int(torch.randint(0, 2 ** 62, (1,), generator=g))
        g.manual_seed(base + self.rank)
        learner.rng_state.copy_(g.get_state())

    def _gather(self, t: Tensor) -> List[Tensor]:
        every = [torch.empty_like(t) for _ in range(self.world)]
        self._dist().all_gather(every, t.contiguous(), group=self.group)
        return every

    def gather_streams(self, destination, prefix: str) -> None:
        """In a state_dict being saved: every per-stream buffer as all ranks' concatenated along the stream
        dimension, and every rank's generator state under RANK_RNG (a collective: all ranks call it)."""
        for name, dim in self._stream_dims.items():
            destination[prefix + name] = torch.cat(self._gather(getattr(self.learner, name).detach()), dim)
        destination[prefix + RANK_RNG] = torch.stack(self._gather(self.learner.rng_state.detach()))

    def local_streams(self, state_dict, prefix: str):
        """A state_dict with this rank's streams of a gathered one (its own, unchanged, if not gathered)."""
        local = dict(state_dict)
        for name, dim in self._stream_dims.items():
            key, mine = prefix + name, getattr(self.learner, name)
            if key in local and local[key].dim() == mine.dim() and local[key].shape[dim] == self.world * mine.shape[dim]:
                local[key] = local[key].narrow(dim, self.rank * mine.shape[dim], mine.shape[dim])
        if prefix + RANK_RNG in local:
            every = local[prefix + RANK_RNG]
            if every.dim() != 2 or every.shape[0] != self.world:
                raise RuntimeError(f"OnlineLearner.load_state_dict: the checkpoint's {RANK_RNG} holds "
                                   f"{every.shape[0] if every.dim() == 2 else '?'} ranks' generators, but the "
                                   f"process group has {self.world} ranks")
            local[prefix + "rng_state"] = every[self.rank].clone()  # set_state needs its own storage
        return local

    def _src(self) -> int:
        dist = self._dist()
        return dist.get_global_rank(self.group, 0) if hasattr(dist, "get_global_rank") else 0

    def _dist(self):
        import torch.distributed as dist
        return dist

    def _check_sizes(self) -> None:
        """Every rank must run the same network, rule and optimiser: all ranks' settings, gathered, must agree."""
        learner, dist = self.learner, self._dist()
        rnn = learner.rnn
        mine = {"hidden_size": rnn.hidden_size, "input_size": rnn.input_size, "output_size": learner._op_outputs,
                "batch_size": learner.batch_size, "rule": learner.rule.name, "optimizer": learner.optimizer.name,
                "sync_every": self.sync_every}
        every = [None] * self.world
        dist.all_gather_object(every, mine, group=self.group)
        for rank, theirs in enumerate(every):
            differ = sorted(k for k in mine if theirs[k] != mine[k])
            if differ:
                raise ValueError(f"OnlineLearner: the ranks of process_group disagree on {differ} (rank "
                                 f"{rank} differs from rank {dist.get_rank(self.group)}); every rank must build the "
                                 f"same learner")

    def _shared(self) -> List[Tensor]:
        """What all ranks hold in common: weights, optimiser state, the rule's learned auxiliary weights (and a
        general readout's torch.optim moments)."""
        learner = self.learner
        tensors = [p.data for p in learner.rnn.parameters()] + [p.data for p in learner.readout.parameters()]
        if learner.optimizer_state is not None:
            tensors.append(learner.optimizer_state)
        tensors += [getattr(learner, name) for name in learner.rule.learned_state]
        general = learner.general
        if general is not None and general.optimizer is not None:
            for state in general.optimizer.state.values():
                tensors += [v for v in state.values() if isinstance(v, Tensor) and v.is_floating_point()]
        return tensors

    def _average(self, tensors: List[Tensor]) -> None:
        """One all-reduce of the flattened tensors, then the mean written back."""
        if not tensors:
            return
        flat = torch.cat([t.reshape(-1).to(tensors[0].dtype) for t in tensors])
        self._dist().all_reduce(flat, group=self.group)
        flat /= self.world
        offset = 0
        for t in tensors:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()

    def _broadcast_shared(self) -> None:
        dist, src = self._dist(), self._src()
        with torch.no_grad():
            for t in self._shared():
                dist.broadcast(t, src=src, group=self.group)

    def run(self, x: Tensor, y: Tensor, lrs) -> Tensor:
        learner = self.learner
        if not self.exact:
            parts = []
            for start in range(0, x.shape[0], self.sync_every):
                stop = min(x.shape[0], start + self.sync_every)
                part_lrs = None if lrs is None else lrs[start:stop]
                run = learner.general.run if learner.general is not None else \
                    (lambda a, b, l: learner._run(a, b, lr_schedule=l))
                parts.append(run(x[start:stop], y[start:stop], part_lrs))
                self._average(self._shared())
            return torch.cat(parts)
        rnn, opt = learner.rnn, learner.optimizer
        n, m, O = rnn.hidden_size, rnn.hidden_size + rnn.input_size + 1, learner._op_outputs
        grad, grad_out = self.grads[:n * m].view(n, m), self.grads[n * m:].view(O, n + 1)
        learned = [getattr(learner, name) for name in learner.rule.learned_state]
        out = torch.empty(x.shape[0], x.shape[1], dtype=x.dtype, device=x.device)
        for t in range(x.shape[0]):
            lr = learner.lr_now() if lrs is None else float(lrs[t])
            out[t] = learner._run(x[t:t + 1], y[t:t + 1], optimizer="none", optimizer_state=self.grads)[0]
            self._average([self.grads] + learned)
            ops.online_optimizer_step(*learner.op_weights(), grad, grad_out, opt.name, lr, opt.op_options(),
                                      learner.optimizer_state, int(learner.optimizer_steps), learner.l2)
            learner.optimizer_steps += 1
        return out
