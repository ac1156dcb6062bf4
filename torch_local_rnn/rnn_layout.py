"""torch.nn.RNN's interface around LocalRNN's layer stack: the argument checks (nn.RNN's messages and exception
types, prefixed with the class name), and the time layout of sequences of different lengths (PackedSequence):
the reverse direction runs on each sequence flipped within its own length, h_n is read at each sequence's last
valid step. Everything LocalRNN.forward calls is TorchScript-compatible, except the PackedSequence conversions
(eager only, as their callers)."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def check_input(who: str, input: Tensor, packed: bool, input_size: int, weight_dtype: torch.dtype) -> None:
    """nn.RNN's check_input: the dtype of the weights (eager only, as nn.RNN), 2-D packed data / 3-D padded
    input, and input_size features."""
    if not torch.jit.is_scripting():
        if input.dtype != weight_dtype and not torch._C._is_any_autocast_enabled():
            raise ValueError(f"{who}: RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
                             f"Convert input: input.to({weight_dtype}), or convert model: model.to({input.dtype})")
    expected_dim = 2 if packed else 3
    if input.dim() != expected_dim:
        raise RuntimeError(f"{who}: input must have {expected_dim} dimensions, got {input.dim()}")
    if input.size(-1) != input_size:
        raise RuntimeError(f"{who}: input.size(-1) must be equal to input_size. Expected {input_size}, "
                           f"got {input.size(-1)}")


def check_hidden(who: str, hx: Tensor, expected: List[int], input: Tensor) -> None:
    """nn.RNN's check_hidden_size: hx of shape (num_layers * num_directions, batch, hidden_size); and the input's
    dtype and device, checked here, before a stochastic rule reserves its noise (nn.RNN fails later, in a matmul)."""
    if list(hx.shape) != expected:
        raise RuntimeError(f"{who}: Expected hidden size ({expected[0]}, {expected[1]}, {expected[2]}), "
                           f"got {list(hx.shape)}")
    if hx.dtype != input.dtype or hx.device != input.device:
        raise RuntimeError(f"{who}: expected hx (h0) to have the input's dtype {input.dtype} and device "
                           f"{input.device}, but got {hx.dtype} on {hx.device}")


def time_major(who: str, input: Tensor, hx: Optional[Tensor], batch_first: bool
               ) -> Tuple[Tensor, Optional[Tensor], bool]:
    """(input as (T, B, I), hx as 3-D, whether the input was unbatched), with nn.RNN's errors for input that is
    not 2-D or 3-D and for an hx of the other dimensionality."""
    if input.dim() not in (2, 3):
        raise ValueError(f"{who}: Expected input to be 2D or 3D, got {input.dim()}D tensor instead")
    unbatched = input.dim() == 2
    if unbatched:
        input = input.unsqueeze(1)  # (T, I) -> (T, 1, I): one sequence, time-major whatever batch_first says
        if hx is not None:
            if hx.dim() != 2:
                raise RuntimeError(f"{who}: For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D "
                                   f"tensor")
            hx = hx.unsqueeze(1)
    else:
        if hx is not None and hx.dim() != 3:
            raise RuntimeError(f"{who}: For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
        if batch_first:
            input = input.transpose(0, 1)
    return input, hx, unbatched


def reverse_in_time(x: Tensor, lengths: Optional[Tensor]) -> Tensor:
    """x (T, B, ...) with each sequence's valid steps 0..L_b-1 in reverse order; the padding after them stays
    where it is, so the reverse direction starts at each sequence's last valid step and the padding comes last,
    after every valid step (a causal rule never lets it change a valid step's output or gradient). Applied twice
    it is the identity, so the same call maps the reverse direction's outputs back to input time."""
    if lengths is None:
        return x.flip(0)
    T, B = x.shape[0], x.shape[1]
    steps = torch.arange(T, device=x.device).unsqueeze(1)                       # (T, 1)
    mirrored = lengths.to(x.device).unsqueeze(0) - 1 - steps                    # (T, B)
    index = torch.where(mirrored >= 0, mirrored, steps.expand(T, B))
    index = index.view(T, B, 1).expand(T, B, x.shape[2])
    return x.gather(0, index)


def last_valid_step(out: Tensor, lengths: Optional[Tensor]) -> Tensor:
    """out[L_b - 1, b] for every sequence b (out[-1] when all have the full length): the forward direction's
    h_n."""
    if lengths is None:
        return out[-1]
    index = (lengths.to(out.device) - 1).view(1, -1, 1).expand(1, out.shape[1], out.shape[2])
    return out.gather(0, index)[0]


def packed_to_padded(packed: PackedSequence) -> Tuple[Tensor, Tensor]:
    """(padded (T, B, I) in the packed (sorted) order, lengths (B,)): the order nn.RNN computes in."""
    return pad_packed_sequence(PackedSequence(packed.data, packed.batch_sizes))


def padded_to_packed(out: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """The outputs (T, B, H) in sorted order as a PackedSequence with ``like``'s batch_sizes and indices, as
    nn.RNN returns it."""
    data = pack_padded_sequence(out, lengths).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def permute_batch(hx: Tensor, permutation: Optional[Tensor]) -> Tensor:
    """hx (layers * directions, B, H) with its batch in ``permutation``'s order (nn.RNN's permute_hidden)."""
    if permutation is None:
        return hx
    return hx.index_select(1, permutation)
