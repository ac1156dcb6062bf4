"""The C++ package: `cmake --install` of the build into a fresh prefix, then the consumers of examples/cpp/
configured with find_package(torch_local_rnn) against that prefix only, built and run — one that calls the ops
(forward, BPTT and RFLO backward) and one that runs a TorchScript model containing LocalRNN (torch::jit::load).
Slow (two LibTorch compiles); CI runs it (scripts/test.sh runs every tier)."""
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch

from helpers import ROOT

pytestmark = pytest.mark.slow


def build_dir():
    path = os.environ.get("TLR_BUILD_DIR", os.path.join(ROOT, "build-cmake"))
    if not os.path.exists(os.path.join(path, "CMakeCache.txt")):
        pytest.skip("no CMake build (scripts/install.sh makes build-cmake/); .ci/run builds it")
    return path


def run(*cmd, **kw):
    result = subprocess.run(list(cmd), capture_output=True, text=True, **kw)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_installed_package_builds_and_runs_both_consumers(tmp_path):
    cmake = shutil.which("cmake")
    assert cmake is not None, "cmake not found"
    prefix, build = tmp_path / "prefix", tmp_path / "examples"
    run(cmake, "--install", build_dir(), "--prefix", str(prefix))
    assert (prefix / "include" / "torch_local_rnn" / "ops.h").exists()
    assert (prefix / "lib" / "cmake" / "torch_local_rnn" / "torch_local_rnnConfig.cmake").exists()
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(cmake, "-S", os.path.join(ROOT, "examples", "cpp"), "-B", str(build), *generator,
        f"-DCMAKE_PREFIX_PATH={prefix};{torch.utils.cmake_prefix_path}")
    run(cmake, "--build", str(build), "-j", os.environ.get("MAX_JOBS", "2"))

    out = run(str(build / "ops_consumer"))
    losses = re.findall(r"^(bptt|rflo) +loss ([0-9.]+) +\|dL/dW_hh\| ([0-9.]+)", out, re.M)
    assert [name for name, _, _ in losses] == ["bptt", "rflo"], out
    assert losses[0][1] == losses[1][1], "both rules run the same forward pass"
    cosine = float(re.search(r"cosine\(RFLO, BPTT\) for W_hh: ([-0-9.]+)", out).group(1))
    assert 0.0 < cosine < 1.0, out  # RFLO's estimate points with BPTT's gradient, and is not it

    for rule in ("rflo", "uoro"):  # uoro: the noise is drawn inside the op (docs/algorithms.md §2.5)
        model = tmp_path / f"model_{rule}.pt"
        run(sys.executable, os.path.join(ROOT, "examples", "cpp", "make_scripted_model.py"), str(model), "--rule", rule)
        out = run(str(build / "script_consumer"), str(model))
        assert re.search(r"scripted model: output 20 x 3 x 1, loss [0-9.]+, \|dL/dW_hh\| [0-9.]*[1-9]", out), out
