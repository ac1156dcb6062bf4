"""Shared fixtures. Helper functions are in tests/helpers.py.

The tests are grouped by layer: ops/ (the op API, the reference oracle), rules/ (every rule against its
reference), modules/ (LocalRNN, OnlineLearner), tasks/, experiments/ (compare, align, the examples, the
package's structure), cuda/ (CUDA equals CPU; marked ``cuda``), cpp/ (the C++ API; GoogleTest sources).
Markers: ``slow`` (the fast tier is ``pytest -m "not slow"``) and ``cuda``."""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))  # `import helpers` from every test module, in every layer folder

import torch_local_rnn  # noqa: E402,F401  (loads the ops)


@pytest.fixture(autouse=True)
def _deterministic_seed():
    """Every test starts from the same global RNG state (tests use explicit generators anyway)."""
    torch.manual_seed(0)
    yield


@pytest.fixture
def ops():
    return torch.ops.torch_local_rnn
