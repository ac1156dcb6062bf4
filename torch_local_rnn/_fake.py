"""Fake (meta) kernels so torch.compile and torch.export can trace the ops without running them.
Registered only after the library loaded. Mutating ops returning new tensors need one too."""
import torch


def _register():
    if not hasattr(torch.library, "register_fake"):  # torch < 2.4
        return

    @torch.library.register_fake("torch_local_rnn::leaky_rnn")
    def _(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity, rule, rule_options, rule_tensors):
        return x.new_empty((x.shape[0], x.shape[1], weight_hh.shape[0]))

    @torch.library.register_fake("torch_local_rnn::leaky_rnn_forward")
    def _(x, h0, weight_hh, weight_ih, bias, alpha, nonlinearity):
        shape = (x.shape[0], x.shape[1], weight_hh.shape[0])
        return x.new_empty(shape), x.new_empty(shape)

    def backward_fake(grad_output, x, h0, weight_hh, weight_ih, output, dphi, *args):
        return (torch.empty_like(x), torch.empty_like(h0), torch.empty_like(weight_hh),
                torch.empty_like(weight_ih), weight_hh.new_empty((weight_hh.shape[0],)))

    torch.library.register_fake("torch_local_rnn::leaky_rnn_bptt_backward")(backward_fake)
    torch.library.register_fake("torch_local_rnn::leaky_rnn_rflo_backward")(backward_fake)
    torch.library.register_fake("torch_local_rnn::leaky_rnn_rule_backward")(backward_fake)

    @torch.library.register_fake("torch_local_rnn::online_learn")
    def _(rule, x, y, hidden, weight_hh, weight_ih, bias, weight_out, bias_out, state, rec_grad, feedback, alpha,
          nonlinearity, loss, lr, rule_options, rule_tensors, record=None):
        return x.new_empty((x.shape[0], x.shape[1]))

    @torch.library.register_fake("torch_local_rnn::rflo_online")
    def _(x, y, hidden, trace, weight_hh, weight_ih, bias, weight_out, bias_out, feedback, alpha, trace_alpha,
          nonlinearity, loss, lr):
        return x.new_empty((x.shape[0], x.shape[1]))


_register()
