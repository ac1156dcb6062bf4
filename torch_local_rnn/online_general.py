"""OnlineLearner's general path (docs/algorithms.md §2.8): any readout module, any loss.

Per step: the forward a_t with the current weights; the readout and the loss by autograd, which give the
credit dL_t/da_t of every stream and the readout's gradient; then one op call in the credit mode (the rule's
traces and recurrent update from that credit, the fused optimiser on W_hh, W_ih, b) and the readout's step by
torch.optim with the same optimiser. The step's order is the fused path's (§2.1): the credit is taken through
the readout before the readout's update. Cost: one op call and one small autograd graph per step (tens of
µs at the papers' sizes, against ~2 µs for the whole fused step): the price of a readout the op cannot see.
"""
import copy
from typing import List, Optional

import torch
from torch import Tensor, nn

from . import losses, online_optim
from .activation import phi


def _named_loss_pair(name: str):
    """A named loss on the general path: the reported loss (losses.per_step_loss) and the function whose
    gradient is the fused path's output error e (cross-entropy: softmax(z) - y; mse: z - y, the papers' quirk;
    mse_mean: (z - y) / O), so an nn.Sequential readout learns as the fused loop would learn it."""
    def for_grad(z: Tensor, y: Tensor) -> Tensor:
        if name == "cross_entropy":
            return -(y * torch.log_softmax(z, dim=-1)).sum(-1)
        squared = 0.5 * (z - y).pow(2)
        return squared.sum(-1) if name == "mse" else squared.mean(-1)
    return (lambda z, y: losses.per_step_loss(z, y, name)), for_grad


class GeneralReadout(nn.Module):
    """The general path's per-step loop and the readout's torch.optim state (saved as this module's extra
    state, so a resumed learner continues the readout's moments too)."""

    def __init__(self, learner, generator: Optional[torch.Generator] = None):
        super().__init__()
        rnn = learner.rnn
        like = dict(dtype=rnn.weight_hh_l0.dtype, device=rnn.weight_hh_l0.device)
        if isinstance(learner.loss, str):
            self._report, self._for_grad = _named_loss_pair(learner.loss)
        else:
            self._report = self._for_grad = learner.loss
        # The op's readout arguments in the credit mode: a stand-in of one output it neither reads nor updates.
        self.register_buffer("stand_in_weight", torch.zeros(1, rnn.hidden_size, **like), persistent=False)
        self.register_buffer("stand_in_bias", torch.zeros(1, **like), persistent=False)
        try:  # on a copy: a readout with running statistics keeps its own
            with torch.no_grad():
                copy.deepcopy(learner.readout)(torch.zeros(2, rnn.hidden_size, **like))
        except Exception as error:  # noqa: BLE001  (whatever the module raises, the user needs the sizes)
            raise ValueError(f"OnlineLearner: expected readout to take (batch, hidden_size = {rnn.hidden_size}) "
                             f"inputs, but it raised {type(error).__name__}: {str(error).splitlines()[0]}") from None
        self._params: List[nn.Parameter] = [p for p in learner.readout.parameters() if p.requires_grad]
        lr0 = online_optim.learning_rate_now(learner.lr, 0, "OnlineLearner")
        self.optimizer = learner.optimizer.torch_optimizer(self._params, lr0, learner.l2) if self._params else None
        self._learner = [learner]  # not a submodule: the learner owns this module

    def stand_in(self):
        return self.stand_in_weight, self.stand_in_bias

    def check(self, feedback) -> None:
        learner = self._learner[0]
        if learner.rule.label_state is not None:
            raise ValueError(f"OnlineLearner: rule '{learner.rule.name}' reads the labels as the readout's output "
                             f"vectors, so it needs an nn.Linear readout with a named loss (the fused path), but "
                             f"got readout {type(learner.readout).__name__} and loss {learner.loss!r}")
        if feedback is not None:
            raise ValueError("OnlineLearner: feedback alignment (a fixed random feedback matrix) needs an nn.Linear "
                             "readout with a named loss; the general path's credit is the exact dL/da_t")

    def pair(self, x, y, who: str):
        """x (T, [B,] I) floating; y any tensor with x's leading (T[, B]) dimensions (class indices too)."""
        learner = self._learner[0]
        for name, t in (("x", x), ("y", y)):
            if not isinstance(t, Tensor):
                raise TypeError(f"OnlineLearner.{who}: expected {name} to be a tensor, but got {type(t).__name__}")
        if not x.is_floating_point() or x.dim() not in (2, 3):
            raise ValueError(f"OnlineLearner.{who}: expected x to be a floating-point (T, input_size) or (T, B, "
                             f"input_size) tensor, but got {x.dtype} of shape {list(x.shape)}")
        if x.dim() == 2:
            x, y = x.unsqueeze(1), (y.unsqueeze(1) if y.dim() >= 1 else y)
        if y.dim() < 2 or y.shape[:2] != x.shape[:2]:
            raise ValueError(f"OnlineLearner.{who}: expected y to start with x's (T, B) = {tuple(x.shape[:2])}, but "
                             f"got y of shape {list(y.shape)}")
        if x.shape[0] == 0:
            raise ValueError(f"OnlineLearner.{who}: expected a non-empty sequence (T > 0), but got x of shape "
                             f"{list(x.shape)}")
        if x.shape[2] != learner.rnn.input_size:
            raise ValueError(f"OnlineLearner.{who}: expected x with input_size = {learner.rnn.input_size} features, "
                             f"but got shape {list(x.shape)}")
        like = dict(dtype=learner.hidden.dtype, device=learner.hidden.device)
        y = y.to(**like) if y.is_floating_point() else y.to(device=like["device"])
        return x.to(**like), y

    @staticmethod
    def _per_stream(loss, out: Tensor, y: Tensor, streams: int, who: str = "fit") -> Tensor:
        value = loss(out, y)
        if not isinstance(value, Tensor) or value.shape != (streams,):
            got = list(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"OnlineLearner.{who}: expected loss(output, target) to return one loss per stream, "
                             f"shape ({streams},), but got {got}")
        return value

    def stream_losses(self, a: Tensor, y: Tensor) -> Tensor:
        return self._per_stream(self._report, self._learner[0].readout(a), y, a.shape[0], "evaluate")

    def run(self, x: Tensor, y: Tensor, lrs: Optional[Tensor]) -> Tensor:
        learner = self._learner[0]
        rnn = learner.rnn
        T, B = x.shape[:2]
        out = torch.empty(T, B, dtype=x.dtype, device=x.device)
        stand_in_y = torch.zeros(1, B, 1, dtype=x.dtype, device=x.device)
        for t in range(T):
            lr = learner.lr_now() if lrs is None else float(lrs[t])
            a_prev = learner.hidden
            w_hh, w_ih, b = learner.op_weights()[:3]
            h = torch.addmm(torch.addmm(b, a_prev, w_hh.t()), x[t], w_ih.t())
            a = ((1.0 - rnn.alpha) * a_prev + rnn.alpha * phi(h, rnn.nonlinearity)).detach().requires_grad_(True)
            with torch.enable_grad():
                z = learner.readout(a)  # once per step: the credit's loss and the reported one both read it
                per_stream = self._per_stream(self._for_grad, z, y[t], B)
                grads = torch.autograd.grad(per_stream.sum(), [a] + self._params, allow_unused=True)
            out[t] = per_stream.detach() if self._report is self._for_grad else \
                self._per_stream(self._report, z.detach(), y[t], B)
            learner._run(x[t:t + 1], stand_in_y, lr_schedule=None if lrs is None else lrs[t:t + 1],
                         credit=grads[0].unsqueeze(0))
            if self.optimizer is not None:  # the readout's step: the mean over streams, as the fused delta rule
                for p, g in zip(self._params, grads[1:]):
                    p.grad = torch.zeros_like(p) if g is None else g / B
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                self.optimizer.step()
                for p in self._params:
                    p.grad = None
        return out

    def get_extra_state(self):
        return {"readout_optimizer": None if self.optimizer is None else self.optimizer.state_dict()}

    def set_extra_state(self, state) -> None:
        if self.optimizer is not None and state.get("readout_optimizer") is not None:
            self.optimizer.load_state_dict(state["readout_optimizer"])
