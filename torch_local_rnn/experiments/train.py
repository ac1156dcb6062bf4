"""One run of ``compare``: the network of a (rule, seed) and its training, in sequence mode (windows of B
streams, LocalRNN(rule) + readout + the task's loss + Adam) or online mode (the papers' protocol,
OnlineLearner with SGD after every step), with its test curve, checkpoints and resumption."""
import math
import os
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from .. import init, losses
from ..activation import phi
from ..modules import LocalRNN
from ..online import OnlineLearner
from ..tasks import Task
from .config import CompareConfig
from .store import checkpoint_saver, load_checkpoint, load_finished, run_paths, save_result


# ---------------------------------------------------------------------------- networks
def initial_network(task: Task, hidden: int, alpha: float, nonlinearity: str,
                    seed: int) -> Tuple[LocalRNN, nn.Linear]:
    """The network of docs/algorithms.md §1.1 from ``seed`` (LocalRNN with rule "bptt"): orthogonal W_hh,
    W_ih ~ N(0, 1/n_in), W_out ~ N(0, 1/n), zero biases."""
    g = torch.Generator()
    g.manual_seed(int(seed))
    rnn = LocalRNN(task.input_size, hidden, alpha=alpha, nonlinearity=nonlinearity, rule="bptt", generator=g)
    readout = nn.Linear(hidden, task.output_size)
    with torch.no_grad():
        readout.weight.copy_(init.normal(task.output_size, hidden, hidden, g))
        readout.bias.zero_()
    return rnn, readout


def noise_generator(seed: int, salt: int = 0) -> torch.Generator:
    """The generator of a rule's own randomness (noise, random feedback, random initial factors) for
    ``seed``: independent of the weights' generator, the same for every rule."""
    g = torch.Generator()
    g.manual_seed(1_000_003 * (int(seed) + 1) + salt)
    return g


def make_network(config: CompareConfig, rule: str, seed: Optional[int] = None) -> Tuple[LocalRNN, nn.Linear]:
    """The network for (rule, seed), identical initial weights for every rule (all from ``seed``,
    default config.seed); a LocalRNN with the rule when it has a sequence form, else with "bptt"."""
    seed = config.seed if seed is None else seed
    task = config.task_instance()
    base, readout = initial_network(task, config.hidden, config.alpha, config.nonlinearity, seed)
    cfg = config.rule_config(rule)
    if not cfg.has_sequence_form:
        return base, readout
    rnn = LocalRNN(task.input_size, config.hidden, alpha=config.alpha, nonlinearity=config.nonlinearity, rule=cfg,
                   generator=noise_generator(seed))
    with torch.no_grad():  # the shared initial weights (its own draws from the noise generator are overwritten)
        for mine, shared in zip(rnn.parameters(), base.parameters()):
            mine.copy_(shared)
    return rnn, readout


def online_learner(config: CompareConfig, rule: str, seed: int, lr: Optional[float] = None) -> OnlineLearner:
    """The OnlineLearner of run (rule, seed) in online mode, before training; ``lr`` replaces config.lr (e.g. 0 for
    a probe whose network must not move)."""
    rnn, readout = make_network(config, rule, seed)
    return OnlineLearner(rnn, readout, loss=config.task_instance().loss, lr=config.lr if lr is None else lr,
                         batch_size=config.batch,
                         rule=config.rule_config(rule), generator=noise_generator(seed, 1),
                         initial_state=config.initial_state, l2=config.l2)


def test_loss(rnn: LocalRNN, readout: nn.Linear, x: Tensor, y: Tensor, loss: str,
              start: Optional[Tensor] = None) -> float:
    """Mean per-step loss over (x, y) from ``start`` (streams, n) (default zeros), learning off."""
    with torch.no_grad():
        out, _ = rnn(x, None if start is None else start.unsqueeze(0))
        return losses.per_step_loss(readout(out), y, loss).mean().item()


def evaluation_start(config: CompareConfig, seed: int) -> Optional[Tensor]:
    """Where every test stream of ``seed`` starts: None (zeros) or, with test_state "random", a = phi(h),
    h ~ N(0, 1) (the papers' code, docs/algorithms.md §1.1), the same for every rule and evaluation."""
    if config.test_state == "zeros":
        return None
    h = torch.randn(config.test_streams, config.hidden, generator=noise_generator(seed, 2), dtype=torch.float64)
    return phi(h, config.nonlinearity).to(torch.get_default_dtype())


def stop_now(config: CompareConfig, test: float) -> bool:
    """The 2019 protocol's early stop: the first test evaluation below ``stop_below`` ends the run (a run whose
    last evaluation is the first below is not "stopped": it ran to the end)."""
    return config.stop_below is not None and test < config.stop_below


class Curve:
    def __init__(self):
        self.steps: List[int] = []
        self.test: List[float] = []
        self.train: List[float] = []
        self._sum, self._count = 0.0, 0

    def add_train(self, total: float, count: int) -> None:
        self._sum += total
        self._count += count

    def point(self, step: int, test: float) -> None:
        self.steps.append(step)
        self.test.append(test)
        self.train.append(self._sum / self._count if self._count else float("nan"))
        self._sum, self._count = 0.0, 0

    def state(self) -> Dict:
        return {"steps": list(self.steps), "test": list(self.test), "train": list(self.train),
                "sum": self._sum, "count": self._count}

    def load(self, state: Dict) -> None:
        self.steps, self.test, self.train = list(state["steps"]), list(state["test"]), list(state["train"])
        self._sum, self._count = state["sum"], state["count"]


# ---------------------------------------------------------------------------- one run
def run_one(config: CompareConfig, rule: str, seed: int, out_dir: Optional[str] = None,
            progress: Optional[Callable[[int], None]] = None, stop_after: Optional[int] = None) -> Optional[Dict]:
    """Trains (rule, seed) and returns its result (curve, final and best test loss, seconds).

    With ``out_dir``: a finished run's file is loaded instead, an interrupted one resumes from its
    checkpoint, checkpoints are written every ``config.checkpoint_every`` steps and the result to
    OUT/runs/<rule>-seed<k>.json. ``stop_after``: stop at the first evaluation point at or after that
    many steps, save a checkpoint there (needs out_dir) and return None (what an interrupted job leaves)."""
    if stop_after is not None and out_dir is None:
        raise ValueError("compare: stop_after needs an out_dir to write the checkpoint to")
    identity = config.identity(rule, seed)
    resume = None
    save = None
    if out_dir is not None:
        json_path, pt_path = run_paths(out_dir, rule, seed)
        os.makedirs(os.path.dirname(json_path), exist_ok=True)
        if os.path.exists(json_path):
            result = load_finished(json_path, identity)
            if progress is not None:
                progress(config.steps)
            return result
        if os.path.exists(pt_path):
            resume = load_checkpoint(pt_path, identity)
        save = checkpoint_saver(pt_path, identity)

    train = _train_sequence if config.mode == "sequence" else _train_online
    result = train(config, rule, seed, resume, save, progress, stop_after)
    if result is None or out_dir is None:
        return result
    save_result(json_path, pt_path, identity, result)
    return result


class Schedule:
    """When to evaluate, checkpoint and stop (all at evaluation points)."""

    def __init__(self, config: CompareConfig, done: int, save, stop_after: Optional[int]):
        self.config, self.save, self.stop_after = config, save, stop_after
        self.every, self.last_checkpoint = config.interval, done

    def evaluate_now(self, done: int) -> bool:
        return done % self.every == 0 or done == self.config.steps

    def checkpoint_now(self, done: int) -> Tuple[bool, bool]:
        """(save a checkpoint, stop) at evaluation point ``done``."""
        if self.save is None or done >= self.config.steps:
            return False, False
        stop = self.stop_after is not None and done >= self.stop_after
        every = self.config.checkpoint_every
        due = every is not None and done - self.last_checkpoint >= every
        if stop or due:
            self.last_checkpoint = done
        return stop or due, stop


def _train_sequence(config: CompareConfig, rule: str, seed: int, resume: Optional[Dict], save, progress,
                    stop_after) -> Optional[Dict]:
    """Windows of B streams, LocalRNN(rule) + readout + the task's loss + Adam."""
    task = config.task_instance()
    test_data = task.generate(config.test_steps, config.test_streams, seed=config.test_seed(seed))
    start_state = evaluation_start(config, seed)
    rnn, readout = make_network(config, rule, seed)
    optimizer = torch.optim.Adam(list(rnn.parameters()) + list(readout.parameters()), lr=config.lr,
                                 weight_decay=config.l2)
    curve, h, done, seconds = Curve(), None, 0, 0.0
    if resume is None:
        curve.point(0, test_loss(rnn, readout, *test_data, task.loss, start_state))
    else:
        rnn.load_state_dict(resume["rnn"])
        readout.load_state_dict(resume["readout"])
        optimizer.load_state_dict(resume["optimizer"])
        curve.load(resume["curve"])
        h, done, seconds = resume["hidden"], int(resume["done"]), float(resume["seconds"])
        if progress is not None:
            progress(done)
    schedule = Schedule(config, done, save, stop_after)
    start = time.perf_counter()
    position = 0
    for x, y in task.stream(config.steps, config.batch, config.window, seed=config.data_seed(seed)):
        position += x.shape[0]
        if position <= done:  # trained on before the checkpoint: regenerated and skipped
            continue
        out, h = rnn(x, None if h is None else h.detach())
        step_losses = losses.per_step_loss(readout(out), y, task.loss)
        loss = step_losses.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        curve.add_train(step_losses.detach().sum().item(), step_losses.numel())
        done += x.shape[0]
        if progress is not None:
            progress(x.shape[0])
        if schedule.evaluate_now(done):
            curve.point(done, test_loss(rnn, readout, *test_data, task.loss, start_state))
            if done < config.steps and stop_now(config, curve.test[-1]):
                return result_of(rule, seed, curve, seconds + time.perf_counter() - start, stopped=True)
            write, stop = schedule.checkpoint_now(done)
            if write:
                save({"rnn": rnn.state_dict(), "readout": readout.state_dict(), "optimizer": optimizer.state_dict(),
                      "curve": curve.state(), "hidden": h.detach().clone(), "done": done,
                      "seconds": seconds + time.perf_counter() - start})
            if stop:
                return None
    return result_of(rule, seed, curve, seconds + time.perf_counter() - start)


def _train_online(config: CompareConfig, rule: str, seed: int, resume: Optional[Dict], save, progress,
                  stop_after) -> Optional[Dict]:
    """The papers' protocol: OnlineLearner, SGD after every step, traces carried across updates."""
    task = config.task_instance()
    test_data = task.generate(config.test_steps, config.test_streams, seed=config.test_seed(seed))
    start_state = evaluation_start(config, seed)
    learner = online_learner(config, rule, seed)
    rnn, readout = learner.rnn, learner.readout
    curve, done, seconds = Curve(), 0, 0.0
    if resume is None:
        curve.point(0, test_loss(rnn, readout, *test_data, task.loss, start_state))
    else:
        learner.load_state_dict(resume["learner"])
        curve.load(resume["curve"])
        done, seconds = int(resume["done"]), float(resume["seconds"])
        if progress is not None:
            progress(done)
    schedule = Schedule(config, done, save, stop_after)
    every = config.interval
    start = time.perf_counter()
    position = 0
    for x, y in task.stream(config.steps, config.batch, every, seed=config.data_seed(seed)):
        position += x.shape[0]
        if position <= done:
            continue
        step_losses = learner.fit(x, y, chunk_size=every)
        curve.add_train(step_losses.sum().item(), step_losses.numel())
        done += x.shape[0]
        if progress is not None:
            progress(x.shape[0])
        curve.point(done, test_loss(rnn, readout, *test_data, task.loss, start_state))
        if done < config.steps and stop_now(config, curve.test[-1]):
            return result_of(rule, seed, curve, seconds + time.perf_counter() - start, stopped=True)
        write, stop = schedule.checkpoint_now(done)
        if write:
            save({"learner": learner.state_dict(), "curve": curve.state(), "done": done,
                  "seconds": seconds + time.perf_counter() - start})
        if stop:
            return None
    return result_of(rule, seed, curve, seconds + time.perf_counter() - start)


def result_of(rule: str, seed: int, curve: Curve, seconds: float, stopped: bool = False) -> Dict:
    finite = [v for v in curve.test if math.isfinite(v)]
    return {"rule": rule, "seed": seed, "steps": curve.steps, "test_loss": curve.test, "train_loss": curve.train,
            "final_test_loss": curve.test[-1], "best_test_loss": min(finite) if finite else float("nan"),
            "seconds": seconds, "stopped": stopped}
