"""What the CUDA-against-CPU tests share (test_cuda_rules.py, test_cuda_online_paths.py): the online rule
configs, the learner, the stream and the comparison of a module with its CPU twin (tests/online_configs.py, which
the GPU-order tests on the CPU share), and the tolerances."""
import pytest
import torch

# re-exported: the CUDA tests import them from here
from online_configs import ONLINE, build_learner, compare_modules, stream  # noqa: F401

CUDA = torch.device("cuda")
TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-4}

DTYPES = pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
