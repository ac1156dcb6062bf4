"""The network OnlineLearner trains: one forward LocalRNN layer with a bias, whose two biases (nn.RNN's bias_ih_l0
and bias_hh_l0) are folded into the one b the online op learns."""
import torch

from .modules import LocalRNN


def check_online_network(rnn) -> None:
    """Refuses what the online op cannot train, then folds the biases in place. The op updates one bias b
    (docs/algorithms.md §1: h_t = W_hh a_{t-1} + W_ih x_t + b), and its gradient cannot tell nn.RNN's two biases
    apart: bias_ih_l0 += bias_hh_l0, bias_hh_l0 = 0 (the network's function is unchanged), and bias_ih_l0 is the b
    the op learns. A stack of layers or directions has no online form (the op runs one forward layer), and a
    bias=False network none either (the op always learns b: refused rather than silently given one)."""
    if not isinstance(rnn, LocalRNN):
        raise TypeError(f"OnlineLearner: expected rnn to be a LocalRNN, but got {type(rnn).__name__}")
    if rnn.num_layers != 1 or rnn.bidirectional:
        raise ValueError(f"OnlineLearner: expected a LocalRNN with num_layers=1 and bidirectional=False (the online "
                         f"op runs one forward layer), but got num_layers={rnn.num_layers}, "
                         f"bidirectional={rnn.bidirectional}")
    if not rnn.bias:
        raise ValueError("OnlineLearner: expected a LocalRNN with bias=True (the online op learns the bias b), but "
                         "got bias=False")
    fold_recurrent_bias(rnn)


def fold_recurrent_bias(rnn) -> None:
    """bias_ih_l0 += bias_hh_l0, bias_hh_l0 = 0: h_t is unchanged."""
    with torch.no_grad():
        rnn.bias_ih_l0.add_(rnn.bias_hh_l0)
        rnn.bias_hh_l0.zero_()


def fold_after_load(learner, incompatible_keys) -> None:
    """load_state_dict post-hook of OnlineLearner: a state_dict may bring a non-zero bias_hh_l0 (an nn.RNN's or
    another LocalRNN's); it is folded like the constructor's."""
    fold_recurrent_bias(learner.rnn)
