"""``python -m torch_local_rnn align``: how well each rule's gradient estimate points along the exact
gradient during training (the JMLR paper's gradient-alignment analysis, docs/algorithms.md §6.4).

One network is trained online (OnlineLearner, SGD after every step) by ``--train-rule``, default
``rtrl``: the exact online gradient (exact for frozen weights, BPTT itself has no online form), and
affordable at n = 32 (about 20,000 steps/s on one core; ``--train-rule f_bptt`` is the JMLR runs'
truncated "BPTT" and about 3x faster). At K points of training (step 0, steps/(K-1), ..., steps),
on the network's weights and state h0 at that moment and the next W steps of the stream (the ones it
is about to train on), every rule estimates the gradient of the window's summed loss

    L = sum over the W steps of the per-step loss (mean over the B streams)

with respect to the recurrent weights [W_hh | W_ih | b], and so does exact BPTT (LocalRNN(rule="bptt")
+ autograd, float64). Reported per rule and point: the cosine similarity of the two and the norm ratio
|estimate| / |exact|. (For MSE tasks the loss is 1/2 sum over outputs, the online learners' error
convention, docs/algorithms.md §1; this only rescales.)

* Rules with a sequence form: a LocalRNN(rule=...) with those weights runs over the window from the
  same h0 with the same readout, and loss.backward() gives the estimate, so the rule's traces start at
  zero at the window's start and the weights are frozen over the window: rtrl then equals BPTT exactly
  (a check), rflo, uoro, ... give their approximations; kernl uses its initial A = I and rates (its
  sequence form does not learn them). The stochastic rules draw fresh noise at every point.
* dni and dni_b (online only; the synthetic gradient is learned along the way): a learner of that rule
  is trained on the same stream from the same initial weights with the same lr, and its alignment is
  measured on its own network: its estimate is the sum over the window of its update directions
  (ops.online_learn with lr = 0 and frozen apical weights, from a copy of its state), compared with BPTT
  on its own weights and h0. Its estimate U_t of the credit is infinite-horizon while BPTT's stops at
  the window's end, a bias of the last steps of the window.
* For dni / dni_b also: the apical potential U_t (the recorded credit estimate) against the true credit
  c_t = dL_{>=t}/da_t (autograd through the window with zero perturbations added to every a_t). Their
  correlation (pooled over units, streams and the first half of the window, where every c_t sees at
  least W/2 future steps) at every point, and a plot of both over the last point's window for a few
  units.

Writes alignment.csv, alignment.json, alignment.png (cosine and norm ratio against training step per
rule) and, per DNI rule, <rule>_credit.png and <rule>_credit.csv into --out.
"""
import dataclasses
import math
import statistics
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .. import losses, ops
from ..modules import LocalRNN
from ..online import OnlineLearner
from .config import AlignConfig
from .train import initial_network, noise_generator

F64 = torch.float64


# ---------------------------------------------------------------------------- pieces
class BufferedStream:
    """A task stream read by ``peek(n)`` (the next n steps, kept) and ``take(n)`` (consumed)."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._x: Optional[Tensor] = None
        self._y: Optional[Tensor] = None

    def _fill(self, n: int) -> None:
        xs, ys = ([] if self._x is None else [self._x]), ([] if self._y is None else [self._y])
        have = sum(x.shape[0] for x in xs)
        while have < n:
            x, y = next(self._chunks)
            xs.append(x)
            ys.append(y)
            have += x.shape[0]
        self._x, self._y = torch.cat(xs), torch.cat(ys)

    def peek(self, n: int) -> Tuple[Tensor, Tensor]:
        self._fill(n)
        return self._x[:n], self._y[:n]

    def take(self, n: int) -> Tuple[Tensor, Tensor]:
        x, y = self.peek(n)
        self._x, self._y = self._x[n:], self._y[n:]
        return x, y


def learner_weights(learner: OnlineLearner) -> List[Tensor]:
    """The learner's weights [W_hh, W_ih, b, W_out, b_out], float64 copies."""
    rnn, ro = learner.rnn, learner.readout
    b = rnn.bias_ih_l0 + rnn.bias_hh_l0  # the one b of docs/algorithms.md §1 (OnlineLearner keeps bias_hh_l0 = 0)
    return [w.detach().to(F64).clone() for w in (rnn.weight_hh_l0, rnn.weight_ih_l0, b, ro.weight, ro.bias)]


def _window_loss(a: Tensor, y: Tensor, w_out: Tensor, b_out: Tensor, loss: str, scale: float) -> Tensor:
    """Sum over steps of the per-step loss (mean over streams), in the online learners' convention."""
    return (losses.per_step_loss(a @ w_out.t() + b_out, y, loss) * scale).mean(1).sum()


def window_gradient(rnn64: LocalRNN, weights: Sequence[Tensor], h0: Tensor, x: Tensor, y: Tensor, loss: str,
                    scale: float = 1.0) -> Tuple[Tensor, float]:
    """The gradient of the window's summed loss w.r.t. [W_hh | W_ih | b] as ``rnn64``'s rule computes it
    (its weights set to ``weights``, from h0, float64), and the loss."""
    w_hh, w_ih, b, w_out, b_out = weights
    with torch.no_grad():
        rnn64.weight_hh_l0.copy_(w_hh)
        rnn64.weight_ih_l0.copy_(w_ih)
        rnn64.bias_ih_l0.copy_(b)
        rnn64.bias_hh_l0.zero_()
    rnn64.zero_grad(set_to_none=True)
    out, _ = rnn64(x.to(F64), h0.to(F64).unsqueeze(0))
    total = _window_loss(out, y.to(F64), w_out, b_out, loss, scale)
    total.backward()
    grad = torch.cat([rnn64.weight_hh_l0.grad, rnn64.weight_ih_l0.grad, rnn64.bias_ih_l0.grad[:, None]], 1)
    return grad.detach().clone(), total.item()


def online_estimate(learner: OnlineLearner, x: Tensor, y: Tensor) -> Tuple[Tensor, Tensor]:
    """An online rule's gradient estimate of the window's summed loss, from a copy of the learner's state
    (the learner is left as it is): the sum over the window of its update directions with lr = 0 (weights
    frozen; for dni / dni_b also the apical weights and W_a: lr_sg = lr_j = 0), float64. Returns
    (estimate (n, n + I + 1), the recorded apical potentials U_t (T, B, n) for dni / dni_b, else None)."""
    cfg = learner.rule
    dni = cfg.records  # dni / dni_b: their apical potentials are recorded too
    if dni:
        cfg = dataclasses.replace(cfg, lr_sg=0.0, lr_j=0.0)
    x, y = x.to(F64), y.to(F64)
    rnn = learner.rnn
    state = {name: t.detach().clone().to(F64) for name, t in learner.rule_state().items()}
    if dni and int(learner.steps_done) == 0:  # what OnlineLearner does before its first step
        state["sg_label_prev"].copy_(y[0])
    n, I = rnn.hidden_size, rnn.input_size
    rec_grad = torch.zeros(n, n + I + 1, dtype=F64)
    record = torch.zeros(x.shape[0], x.shape[1], 4, n, dtype=F64) if dni else None
    noise = []
    if cfg.stochastic:  # a copy of the learner's generator: the learner draws the same noise later
        g = torch.Generator()
        g.set_state(learner.rng_state.cpu().clone())
        noise = cfg.noise(x.shape[0], x.shape[1], n, g, dtype=F64)
    feedback = None if learner.feedback is None else learner.feedback.to(F64)
    ops.online_learn(cfg.name, x, y, learner.hidden.detach().clone().to(F64), *learner_weights(learner),
                     list(state.values()), rec_grad, feedback, rnn.alpha, rnn.nonlinearity, learner.loss, 0.0,
                     cfg.online_options(rnn.alpha), noise, record)
    return rec_grad, (record[:, :, 0, :] if dni else None)


def true_credit(weights: Sequence[Tensor], h0: Tensor, x: Tensor, y: Tensor, alpha: float, nonlinearity: str,
                loss: str, scale: float = 1.0) -> Tensor:
    """c_t = dL_{>=t}/da_t through the window (T, B, n): autograd w.r.t. zero perturbations added to every
    a_t, per stream (L = the stream's summed loss), float64, a plain per-step torch loop."""
    w_hh, w_ih, b, w_out, b_out = weights
    phi = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[nonlinearity]
    x, y = x.to(F64), y.to(F64)
    delta = torch.zeros(x.shape[0], x.shape[1], w_hh.shape[0], dtype=F64, requires_grad=True)
    a, total = h0.to(F64), 0.0
    for t in range(x.shape[0]):
        a = (1.0 - alpha) * a + alpha * phi(a @ w_hh.t() + x[t] @ w_ih.t() + b) + delta[t]
        total = total + (losses.per_step_loss(a @ w_out.t() + b_out, y[t], loss) * scale).sum()
    (credit,) = torch.autograd.grad(total, delta)
    return credit


def cosine_and_ratio(estimate: Tensor, exact: Tensor) -> Tuple[float, float]:
    ne, nx = estimate.norm().item(), exact.norm().item()
    cos = (estimate * exact).sum().item() / (ne * nx) if ne > 0 and nx > 0 else float("nan")
    return cos, (ne / nx if nx > 0 else float("nan"))


def correlation(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of the flattened tensors (nan when one is constant)."""
    a, b = a.reshape(-1).to(F64), b.reshape(-1).to(F64)
    a, b = a - a.mean(), b - b.mean()
    denom = (a.norm() * b.norm()).item()
    return (a @ b).item() / denom if denom > 0 else float("nan")


def _finite_stats(values: Sequence[float]) -> Dict[str, float]:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return {"mean": float("nan"), "median": float("nan"), "n": 0}
    return {"mean": statistics.fmean(v), "median": statistics.median(v), "n": len(v)}


PHASES = ("early", "middle", "late")


def phases(count: int) -> List[Tuple[str, List[int]]]:
    """The point indices split into up to three consecutive phases of (nearly) equal size."""
    k = min(3, count)
    bounds = [round(i * count / k) for i in range(k + 1)]
    names = PHASES if k == 3 else (("early", "late") if k == 2 else ("all",))
    return [(names[i], list(range(bounds[i], bounds[i + 1]))) for i in range(k)]


# ---------------------------------------------------------------------------- the analysis
def align(config: AlignConfig, progress: bool = True) -> Dict:
    """Runs the analysis (module docstring); returns the report (see write_outputs)."""
    previous = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(int(config.threads))
    try:
        return _align(config, progress)
    finally:
        torch.set_num_threads(previous)


def _align(config: AlignConfig, progress: bool) -> Dict:
    task = config.task_instance()
    scale = float(task.output_size) if task.loss == "mse" else 1.0
    net = dict(hidden=config.hidden, alpha=config.alpha, nonlinearity=config.nonlinearity, seed=config.seed)

    def learner(rule: str) -> OnlineLearner:
        rnn, readout = initial_network(task, **net)
        return OnlineLearner(rnn, readout, loss=task.loss, lr=config.lr, batch_size=config.batch,
                             rule=config.rule_config(rule), generator=noise_generator(config.seed, 1))

    trainer = learner(config.train_rule)
    sequence_rules = [r for r in config.rules if config.rule_config(r).has_sequence_form]
    own = {r: learner(r) for r in config.rules if not config.rule_config(r).has_sequence_form}
    like = dict(alpha=config.alpha, nonlinearity=config.nonlinearity, dtype=F64)
    estimators = {r: LocalRNN(task.input_size, config.hidden, rule=config.rule_config(r),
                              generator=noise_generator(config.seed, 3), **like) for r in sequence_rules}
    exact_rnn = LocalRNN(task.input_size, config.hidden, rule="bptt", **like)
    W = config.window
    stream = BufferedStream(task.stream(config.steps + W, config.batch, chunk_size=max(W, 10_000),
                                   seed=2 * config.seed))
    rows: List[Dict] = []
    credit: Dict[str, Dict] = {r: {"steps": [], "correlation": [], "sign_agreement": []} for r in own}
    last_credit: Dict[str, Dict] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=config.steps, unit="step", unit_scale=True, dynamic_ncols=True, file=sys.stderr,
                   desc=f"train ({config.train_rule})")
    started, done = time.perf_counter(), 0
    half = max(1, -(-W // 2))
    for k, step in enumerate(config.point_steps):
        if step > done:
            x, y = stream.take(step - done)
            for lrn in [trainer, *own.values()]:
                lrn.fit(x, y, chunk_size=10_000)
            if bar is not None:
                bar.update(step - done)
            done = step
        xw, yw = stream.peek(W)
        weights = learner_weights(trainer)
        h0 = trainer.hidden.detach().to(F64)
        exact, window_loss = window_gradient(exact_rnn, weights, h0, xw, yw, task.loss, scale)
        for r in sequence_rules:
            estimate, _ = window_gradient(estimators[r], weights, h0, xw, yw, task.loss, scale)
            rows.append(_row(r, k, step, estimate, exact, window_loss, f"trained by {config.train_rule}"))
        for r, lrn in own.items():
            w_own, h_own = learner_weights(lrn), lrn.hidden.detach().to(F64)
            exact_own, loss_own = window_gradient(exact_rnn, w_own, h_own, xw, yw, task.loss, scale)
            estimate, apical = online_estimate(lrn, xw, yw)
            rows.append(_row(r, k, step, estimate, exact_own, loss_own, f"its own {r} learner"))
            c = true_credit(w_own, h_own, xw, yw, config.alpha, config.nonlinearity, task.loss, scale)
            credit[r]["steps"].append(step)
            credit[r]["correlation"].append(correlation(apical[:half], c[:half]))
            credit[r]["sign_agreement"].append(
                (torch.sign(apical[:half]) == torch.sign(c[:half])).to(F64).mean().item())
            last_credit[r] = {"step": step, "apical": apical, "credit": c}
    if bar is not None:
        bar.close()
    report = _report(config, task, rows, credit, last_credit, half)
    report["seconds"] = time.perf_counter() - started
    return report


def _row(rule, k, step, estimate, exact, window_loss, network) -> Dict:
    cos, ratio = cosine_and_ratio(estimate, exact)
    return {"rule": rule, "point": k, "step": step, "cosine": cos, "norm_ratio": ratio,
            "estimate_norm": estimate.norm().item(), "exact_norm": exact.norm().item(), "window_loss": window_loss,
            "network": network}


def _report(config, task, rows, credit, last_credit, half) -> Dict:
    per_rule: Dict[str, Dict] = {}
    for rule in config.rules:
        mine = [r for r in rows if r["rule"] == rule]
        per_rule[rule] = {key: [r[key] for r in mine] for key in
                          ("step", "cosine", "norm_ratio", "estimate_norm", "exact_norm", "window_loss")}
        per_rule[rule]["network"] = mine[0]["network"] if mine else ""
    summary: Dict[str, List[Dict]] = {}
    for rule, r in per_rule.items():
        entries = []
        for name, idx in phases(len(r["step"])) + [("all", list(range(len(r["step"]))))]:
            if name == "all" and len(r["step"]) <= 1:
                continue
            cos = _finite_stats([r["cosine"][i] for i in idx])
            ratio = _finite_stats([r["norm_ratio"][i] for i in idx])
            entries.append({"phase": name, "first_step": r["step"][idx[0]], "last_step": r["step"][idx[-1]],
                            "points": len(idx), "cosine_mean": cos["mean"], "cosine_median": cos["median"],
                            "norm_ratio_mean": ratio["mean"], "norm_ratio_median": ratio["median"]})
        summary[rule] = entries
    credit_out = {}
    for rule, c in credit.items():
        last = last_credit[rule]
        credit_out[rule] = {**c, "steps_used": half,
                            "last": {"step": last["step"],
                                     "correlation_per_unit": [correlation(last["apical"][:half, :, u],
                                                                          last["credit"][:half, :, u])
                                                              for u in range(last["apical"].shape[2])]}}
    return {"config": config.as_dict(), "description": config.describe(), "task": repr(task), "loss": task.loss,
            "points": config.point_steps, "rows": rows, "rules": per_rule, "summary": summary, "credit": credit_out,
            "_last_credit": last_credit, "torch": torch.__version__,
            "measure": "cosine(estimate, exact) and |estimate| / |exact| of the gradient of the summed loss over the "
                       f"next {config.window} steps w.r.t. [W_hh | W_ih | b], exact = BPTT from the same state"}
