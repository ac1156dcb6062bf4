"""The ops give the same numbers called from C++ (GoogleTest's Parity.DumpOpResults, which saves
its results) as called from Python on the same formula inputs (tests/cpp/reference.h)."""
import math
import os
import subprocess

import pytest
import torch

import torch_local_rnn  # noqa: F401

from helpers import ROOT

ops = torch.ops.torch_local_rnn


def formula(shape, phase):
    k = torch.arange(math.prod(shape), dtype=torch.float64)
    return (0.5 * torch.sin(0.7 * k + phase)).reshape(shape)


def cpp_binary():
    path = os.environ.get("TLR_CPP_TESTS", os.path.join(ROOT, "build-cmake", "tlr_cpp_tests"))
    if not os.path.exists(path):
        if os.environ.get("TLR_CPP_TESTS"):
            pytest.fail(f"TLR_CPP_TESTS={path} does not exist")
        pytest.skip("GoogleTest binary not built (cmake -B build-cmake); .ci/run builds it")
    return path


def test_cpp_and_python_calls_agree(tmp_path):
    dump = tmp_path / "parity.pt"
    run = subprocess.run([cpp_binary(), "--gtest_filter=Parity.*"], env={**os.environ, "TLR_PARITY_FILE": str(dump)},
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    cpp = torch.load(dump, weights_only=False)  # our own file, written by the test binary above

    T, B, I, n, O = 9, 2, 3, 4, 2
    x, h0, w = formula((T, B, I), 0.1), formula((B, n), 0.2), formula((n, n), 0.3)
    u, b, g = formula((n, I), 0.4), formula((n,), 0.5), formula((T, B, n), 0.6)
    out, dphi = ops.leaky_rnn_forward(x, h0, w, u, b, 0.5, "tanh")
    bptt = ops.leaky_rnn_bptt_backward(g, x, h0, w, u, out, dphi, 0.5)
    rflo = ops.leaky_rnn_rflo_backward(g, x, h0, w, u, out, dphi, 0.5, 0.5)
    y = torch.softmax(formula((T, B, O), 0.7), 2)
    hidden, trace = torch.zeros(B, n, dtype=torch.float64), torch.zeros(B, n, n + I + 1, dtype=torch.float64)
    w2, u2, b2, wo, bo = w.clone(), u.clone(), b.clone(), formula((O, n), 0.8), formula((O,), 0.9)
    losses = ops.rflo_online(x, y, hidden, trace, w2, u2, b2, wo, bo, None, 0.5, 0.5, "tanh", "cross_entropy", 0.1)
    python = [out, dphi, *bptt, *rflo[2:], losses, w2, wo, hidden, trace]

    assert len(cpp) == len(python)
    for k, (c, p) in enumerate(zip(cpp, python)):
        torch.testing.assert_close(c, p, rtol=1e-13, atol=1e-14, msg=f"result {k}")
