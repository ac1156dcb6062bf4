"""The BrainTrace side of benchmarks/bench_braintrace.py: the library's leaky tanh network (docs/algorithms.md §1)
as a brainstate module, trained online by a BrainTrace learner inside one jitted lax.scan over the T steps.

Import this module only after XLA_FLAGS is set (bench_braintrace.py does it) and only when braintrace is
installed (an optional dependency: `pip install braintrace`, which brings jax and brainstate).

The network and the step, written to make exactly the updates of OnlineLearner's fused loop (§2.1):

    h_t = W_hh a_{t-1} + W_ih x_t + b,   a_t = (1 - alpha) a_{t-1} + alpha tanh(h_t)

W_hh a_{t-1} and W_ih x_t + b go through BrainTrace's ETP `matmul`, so that both weights (and b) are traced.
The readout z = W_out a_t + b_out is applied *outside* the learner, on the hidden state it returns, and is
updated by hand (W_out -= lr/B Σ_b e aᵀ): with vjp_method='single-step' a readout inside the learner gets a
zero gradient in braintrace 0.2.6. The step loss is the mean over streams of ½ Σ_k (z - y)² ("mse", whose
gradient is our e = z - y) or of -Σ_k y log softmax(z) ("cross_entropy", gradient p - y), so the gradient
BrainTrace hands back for W is the mean over streams of the per-stream updates, as ours. The learning signal
is the autodiff ∂L/∂a_t = W_outᵀ e / B, i.e. feedback="symmetric" with the readout before this step's update.
"""
import brainstate
import braintrace
import jax
import jax.numpy as jnp

# our rule -> (BrainTrace class, its options, what the table calls it)
ALGORITHMS = {
    "rflo": (braintrace.D_RTRL, {}, "D_RTRL"),
    "eprop": (braintrace.EProp, {"feedback": "symmetric"}, "EProp"),
    "rtrl": (braintrace.SnAp, {"n": 2}, "SnAp-2"),
}


def versions():
    return {"jax": jax.__version__, "brainstate": brainstate.__version__, "braintrace": braintrace.__version__}


def set_precision(bits):
    """brainstate owns jax's x64 switch: importing it resets jax_enable_x64, so set it through brainstate."""
    brainstate.environ.set(precision=bits)
    assert jax.config.jax_enable_x64 == (bits == 64)


class LeakyTanhRNN(brainstate.nn.Module):
    """a_t = (1 - alpha) a_{t-1} + alpha tanh(W_hh a_{t-1} + W_ih x_t + b); weights given in torch's layout."""

    def __init__(self, weight_hh, weight_ih, bias, alpha):
        super().__init__()
        self.alpha = float(alpha)
        self.hidden_size = weight_hh.shape[0]
        # ETP matmul computes x @ w: store the transposes
        self.w_hh = brainstate.ParamState(jnp.asarray(weight_hh.T))
        self.w_ih = brainstate.ParamState({"weight": jnp.asarray(weight_ih.T), "bias": jnp.asarray(bias)})

    def init_state(self, batch_size=None, **kwargs):
        shape = (self.hidden_size,) if batch_size is None else (batch_size, self.hidden_size)
        self.a = brainstate.HiddenState(jnp.zeros(shape, dtype=self.w_hh.value.dtype))

    def update(self, x):
        a = self.a.value
        h = braintrace.matmul(a, self.w_hh.value) + braintrace.matmul(x, self.w_ih.value["weight"],
                                                                      self.w_ih.value["bias"])
        self.a.value = (1.0 - self.alpha) * a + self.alpha * jnp.tanh(h)
        return self.a.value


def _step_loss(z, y, loss):
    if loss == "mse":
        return 0.5 * jnp.sum((z - y) ** 2, axis=-1), z - y
    if loss == "cross_entropy":
        logp = jax.nn.log_softmax(z, axis=-1)
        return -jnp.sum(y * logp, axis=-1), jnp.exp(logp) - y
    raise ValueError(f"unknown loss {loss!r}")


class BrainTraceOnline:
    """One BrainTrace learner on the weights given (numpy, torch layout); run(x, y) trains on T steps of B streams
    ((T, B, I) and (T, B, O) jax arrays) inside one jitted scan and returns the per-step mean losses (T,).

    unbatched=True (B = 1 only) runs the network on (n,) states instead of (1, n)."""

    def __init__(self, rule, weight_hh, weight_ih, bias, weight_out, bias_out, alpha, lr, batch_size, loss="mse",
                 unbatched=False):
        if unbatched and batch_size != 1:
            raise ValueError("unbatched needs batch_size = 1")
        cls, options, self.name = ALGORITHMS[rule]
        self.model = LeakyTanhRNN(weight_hh, weight_ih, bias, alpha)
        self.unbatched = unbatched
        x0 = jnp.zeros((weight_ih.shape[1],) if unbatched else (batch_size, weight_ih.shape[1]),
                       dtype=self.model.w_hh.value.dtype)
        self.learner = braintrace.compile(self.model, cls, x0, batch_size=None if unbatched else batch_size,
                                          **options)
        self.readout = (jnp.asarray(weight_out), jnp.asarray(bias_out))
        params = self.learner.param_states
        learner, B = self.learner, batch_size

        def body(carry, inputs):
            w_out, b_out = carry
            x, y = inputs

            def objective():
                a = learner(x)
                z = a @ w_out.T + b_out
                per_stream, e = _step_loss(z, y, loss)
                return jnp.sum(per_stream) / B, (a, e)

            grads, value, (a, e) = brainstate.transform.grad(objective, params, has_aux=True, return_value=True)()
            for key, state in params.items():
                state.value = jax.tree.map(lambda w, g: w - lr * g, state.value, grads[key])
            if unbatched:
                a, e = a[None], e[None]
            return (w_out - (lr / B) * (e.T @ a), b_out - (lr / B) * jnp.sum(e, axis=0)), value

        @brainstate.transform.jit
        def run(w_out, b_out, xs, ys):
            return brainstate.transform.scan(body, (w_out, b_out), (xs, ys))

        self._run = run

    def run(self, xs, ys):
        if self.unbatched:
            xs, ys = xs[:, 0], ys[:, 0]
        self.readout, losses = self._run(*self.readout, xs, ys)
        return jax.block_until_ready(losses)

    def weights(self):
        """W_hh, W_ih, b, W_out, b_out in torch's layout."""
        w_hh = self.model.w_hh.value
        w_ih = self.model.w_ih.value
        return w_hh.T, w_ih["weight"].T, w_ih["bias"], self.readout[0], self.readout[1]

    def hidden(self):
        return self.model.a.value
