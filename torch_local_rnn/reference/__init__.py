"""Pure-PyTorch reference implementations: per step, slow, obviously right; the tests' oracle.

Written independently of the compiled ops (nothing here calls ``torch.ops.torch_local_rnn``), so the test
suite can hold the ops against them. Every function is available as ``reference.<name>``; by module:

    core       phi, phi_prime, leaky_rnn_forward, bptt_grads, readout_loss, presynaptic, jacobians,
               one_step_input_grads, LocalOnlineResult and the shared online step of §2.1
    rflo       rflo_sequence_grads, rflo_online (§3.6)
    exact      output_only_* and rtrl_* (§3.1, §3.2)
    truncated  f_bptt_* and e_bptt_* (§3.9, §3.10)
    factored   UORO, KF-RTRL, R-KF-RTRL (§3.3-3.5): factored_sequence_grads, factored_online, the updates
    kernl      kernl_kernel, kernl_sequence_grads, kernl_online (§3.7)
    dni        dni_online (§3.8, §4)

Notation (docs/algorithms.md §1): ahat_t = [a_{t-1}; x_t; 1], h_t = W_hh a_{t-1} + W_ih x_t + b,
a_t = (1 - alpha) a_{t-1} + alpha phi(h_t); x (T, B, I), h0 (B, n), states (T, B, n). Every function works
for float32 and float64; use float64 when comparing against the ops.
"""
from .core import (LOSSES, NONLINEARITIES, LocalOnlineResult, _pre_activations, bptt_grads, jacobians,
                   leaky_rnn_forward, one_step_input_grads, phi, phi_prime, presynaptic, readout_loss)
from .dni import dni_online
from .exact import output_only_online, output_only_sequence_grads, rtrl_online, rtrl_sequence_grads
from .factored import (UPDATES, factored_online, factored_sequence_grads, influence_estimate, kf_rtrl_update,
                       rkf_rtrl_update, uoro_update)
from .kernl import kernl_kernel, kernl_online, kernl_sequence_grads
from .rflo import OnlineResult, rflo_online, rflo_sequence_grads
from .truncated import e_bptt_online, e_bptt_sequence_grads, f_bptt_online, f_bptt_sequence_grads

__all__ = ["LOSSES", "NONLINEARITIES", "LocalOnlineResult", "OnlineResult", "bptt_grads", "dni_online",
           "e_bptt_online", "e_bptt_sequence_grads", "f_bptt_online", "f_bptt_sequence_grads", "factored_online",
           "factored_sequence_grads", "influence_estimate", "jacobians", "kernl_kernel", "kernl_online",
           "kernl_sequence_grads", "kf_rtrl_update", "leaky_rnn_forward", "one_step_input_grads",
           "output_only_online", "output_only_sequence_grads", "phi", "phi_prime", "presynaptic", "readout_loss",
           "rflo_online", "rflo_sequence_grads", "rkf_rtrl_update", "rtrl_online", "rtrl_sequence_grads",
           "uoro_update", "UPDATES", "_pre_activations"]
