"""torch-local-rnn: local, online learning rules for recurrent networks as PyTorch C++/CUDA ops."""
from ._library import has_cuda_kernels, load as _load

_load()

from . import ops, rules  # noqa: E402  (ops registers the fake kernels: it needs the loaded library)
from . import losses, tasks  # noqa: E402
from .modules import LocalRNN  # noqa: E402
from .online import OnlineLearner  # noqa: E402
from .online_ensemble import OnlineEnsemble  # noqa: E402  (also attaches OnlineLearner.stack)

__all__ = ["LocalRNN", "OnlineLearner", "OnlineEnsemble", "ops", "rules", "tasks", "losses", "has_cuda_kernels"]
__version__ = "0.1.0"
