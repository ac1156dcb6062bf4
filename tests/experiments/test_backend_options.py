"""The options of where compare's runs execute and what they log, when they are wrong or their package is
missing: an error naming the option, what was expected and how to install what is missing, before anything
runs (nothing is written). Runs without ray or tensorboard installed (a missing package is simulated)."""
import importlib.util
import os
import sys

import pytest

from torch_local_rnn.__main__ import main
from torch_local_rnn.experiments.config import CompareConfig
from torch_local_rnn.experiments.optional import MissingDependencyError
from torch_local_rnn.experiments.runner import compare

from helpers import ROOT
from test_compare import TINY


def compare_fails(args, out, capsys):
    """Runs compare with ``args``; it must exit 2 without writing anything. Returns its stderr."""
    assert main(["compare", *TINY, *args, "--out", str(out)]) == 2
    assert not os.path.exists(out)
    return capsys.readouterr().err


def test_address_needs_backend_ray(tmp_path, capsys):
    err = compare_fails(["--address", "auto"], tmp_path / "out", capsys)
    assert "--address" in err and "--backend ray" in err and "'auto'" in err
    with pytest.raises(ValueError, match="--address"):
        CompareConfig(address="ray://head:10001")


def test_unknown_backend(tmp_path, capsys):
    with pytest.raises(SystemExit):  # argparse's choices
        main(["compare", "--backend", "dask"])
    assert "--backend" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"backend \(--backend\) from \['local', 'ray'\], but got 'dask'"):
        CompareConfig(backend="dask")


def test_backend_ray_without_ray(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    err = compare_fails(["--backend", "ray"], tmp_path / "out", capsys)
    assert "--backend ray needs the ray package" in err
    assert "pip install 'torch-local-rnn[ray]'" in err and "pip install ray" in err
    with pytest.raises(MissingDependencyError, match="--backend ray"):
        compare(CompareConfig(backend="ray"), progress=False)


def test_tensorboard_without_tensorboard(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    err = compare_fails(["--tensorboard", str(tmp_path / "tb")], tmp_path / "out", capsys)
    assert "--tensorboard needs the tensorboard package" in err
    assert "pip install 'torch-local-rnn[tensorboard]'" in err and "pip install tensorboard" in err


def load_jmlr_grid(monkeypatch):
    """examples/jmlr_grid.py as a module (it imports _grid from its own folder)."""
    folder = os.path.join(ROOT, "examples")
    monkeypatch.syspath_prepend(folder)
    spec = importlib.util.spec_from_file_location("jmlr_grid", os.path.join(folder, "jmlr_grid.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_jmlr_grid_names_the_bad_backend_options(tmp_path, capsys, monkeypatch):
    grid = load_jmlr_grid(monkeypatch)
    out = tmp_path / "grid"
    assert grid.main(["--quick", "--no-progress", "--address", "auto", "--out", str(out)]) == 2
    assert "--address" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)
    assert grid.main(["--quick", "--no-progress", "--backend", "ray", "--out", str(out)]) == 2
    assert "--backend ray needs the ray package" in capsys.readouterr().err
    assert not os.path.exists(out / "grid.csv")
