"""Runs of one rule kind trained as one stack (online mode): the runs (rule_1, seed_1), ..., (rule_E, seed_E) —
a rule's seeds, and its variants (variants.py: other rule options) — as one OnlineEnsemble (docs/algorithms.md
§2.10), one op call per chunk for all of them, each member on its own seed's data. Every member is bitwise the run ``run_one`` makes alone (the ensemble runs each member's own step), so a
stacked run's curve and files are those of the solo run; what changes is the wall time. The exception: rflo and
eprop at batch 1 on the CPU take the op's member-lane fast path, where a member equals its solo run to rounding
(float32: ~1e-6 relative), not bitwise; TLR_MEMBERS_SIMD=0 in the environment makes them bitwise again.

Runs already finished are loaded and runs with a checkpoint resume alone (run_one). A member that reaches
``stop_below`` leaves the stack (the others are restacked); checkpoints and ``stop_after`` write each member's
state in the solo run's format, so any run resumes alone or in a stack. A run's ``seconds`` is the stack's time
shared equally among the members that were in it."""
import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from ..online_ensemble import OnlineEnsemble
from .config import CompareConfig
from .store import checkpoint_saver, run_paths, save_result
from .train import Curve, Schedule, evaluation_start, online_learner, result_of, run_one, stop_now, test_loss


Run = Tuple[str, int]  # (rule, seed)


def stack_key(config: CompareConfig, rule: str) -> Tuple:
    """Runs whose rules share this key can stack: the rule kind and what OnlineEnsemble needs shared (the
    feedback's kind: a random or given matrix, or W_out^T)."""
    cfg = config.rule_config(rule)
    feedback = getattr(cfg, "feedback", "symmetric")
    return cfg.name, feedback == "symmetric" if isinstance(feedback, str) else False


def run_stack(config: CompareConfig, runs: Sequence[Run], out_dir: Optional[str] = None,
              progress: Optional[Callable[[int], None]] = None,
              stop_after: Optional[int] = None) -> List[Optional[Dict]]:
    """The results of ``runs`` (rule, seed), in order (None: stopped by ``stop_after``), as run_one's; their rules
    must share stack_key."""
    if config.mode != "online":
        raise ValueError(f"compare: runs are stacked in online mode only, but the mode is '{config.mode}'")
    runs = [tuple(r) for r in runs]
    if len({stack_key(config, rule) for rule, _ in runs}) > 1:
        raise ValueError(f"compare: runs of one stack need one rule kind and feedback kind, but got {runs}")
    results: Dict[Run, Optional[Dict]] = {}
    fresh = []
    for rule, seed in runs:
        started = out_dir is not None and any(os.path.exists(p) for p in run_paths(out_dir, rule, seed))
        if started:  # a finished run loads, a checkpointed one resumes on its own
            results[(rule, seed)] = run_one(config, rule, seed, out_dir, progress, stop_after)
        else:
            fresh.append((rule, seed))
    if len(fresh) == 1:
        results[fresh[0]] = run_one(config, *fresh[0], out_dir, progress, stop_after)
    elif fresh:
        results.update(_train_stack(config, fresh, out_dir, progress, stop_after))
    return [results[run] for run in runs]


class _Member:
    """One run inside the stack: its seed, data stream, test set, curve and saver."""

    def __init__(self, config: CompareConfig, rule: str, seed: int, out_dir: Optional[str], stop_after):
        task = config.task_instance()
        self.rule, self.seed, self.curve = rule, seed, Curve()
        self.test = task.generate(config.test_steps, config.test_streams, seed=config.test_seed(seed))
        self.start = evaluation_start(config, seed)
        self.stream = iter(task.stream(config.steps, config.batch, config.interval, seed=config.data_seed(seed)))
        self.save = None
        if out_dir is not None:
            json_path, pt_path = run_paths(out_dir, rule, seed)
            os.makedirs(os.path.dirname(json_path), exist_ok=True)
            self.save = checkpoint_saver(pt_path, config.identity(rule, seed))
        self.schedule = Schedule(config, 0, self.save, stop_after)
        self.seconds = 0.0

    def evaluate(self, learner, done: int, loss: str) -> float:
        self.curve.point(done, test_loss(learner.rnn, learner.readout, *self.test, loss, self.start))
        return self.curve.test[-1]


def _train_stack(config: CompareConfig, runs: Sequence[Run], out_dir: Optional[str], progress,
                 stop_after) -> Dict[Run, Optional[Dict]]:
    loss = config.task_instance().loss
    members = [_Member(config, rule, seed, out_dir, stop_after) for rule, seed in runs]
    learners = [online_learner(config, rule, seed) for rule, seed in runs]
    for member, learner in zip(members, learners):
        member.evaluate(learner, 0, loss)
    ensemble = OnlineEnsemble.stack(learners)
    results: Dict[Run, Optional[Dict]] = {}
    done = 0
    while members and done < config.steps:
        started = time.perf_counter()
        chunks = [next(m.stream) for m in members]
        x = torch.stack([c[0] for c in chunks], 1)  # (T, E, B, I): each member its own seed's data
        y = torch.stack([c[1] for c in chunks], 1)
        step_losses = ensemble.fit(x, y, chunk_size=config.interval)  # (T, E, B)
        done += x.shape[0]
        learners = ensemble.unstack()
        share = (time.perf_counter() - started) / len(members)
        keep = []
        for e, (member, learner) in enumerate(zip(members, learners)):
            member.seconds += share
            mine = step_losses[:, e].contiguous()  # summed as the solo run sums its own (T, B) losses
            member.curve.add_train(mine.sum().item(), mine.numel())
            test = member.evaluate(learner, done, loss)
            if stop_now(config, test) or done >= config.steps:
                results[(member.rule, member.seed)] = _finish(config, member, out_dir, stopped=done < config.steps)
                continue
            write, stop = member.schedule.checkpoint_now(done)
            if write:
                member.save({"learner": learner.state_dict(), "curve": member.curve.state(), "done": done,
                             "seconds": member.seconds})
            if stop:
                results[(member.rule, member.seed)] = None
                continue
            keep.append((member, learner))
        if progress is not None:
            progress(x.shape[0] * len(members))
        if len(keep) != len(members):  # members that stopped leave the stack
            members = [m for m, _ in keep]
            ensemble = OnlineEnsemble.stack([learner for _, learner in keep]) if keep else None
    return results


def _finish(config: CompareConfig, member: _Member, out_dir: Optional[str], stopped: bool) -> Dict:
    result = result_of(member.rule, member.seed, member.curve, member.seconds, stopped=stopped)
    if out_dir is not None:
        json_path, pt_path = run_paths(out_dir, member.rule, member.seed)
        save_result(json_path, pt_path, config.identity(member.rule, member.seed), result)
    return result
