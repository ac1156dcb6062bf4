"""``compare --tensorboard DIR``: the event files read back with TensorBoard's own reader hold each run's
test and train loss at every evaluation step, equal to curves.csv, one folder per run; a rerun with the same
DIR replaces them instead of adding a second copy of every point."""
import os

import pytest

from torch_local_rnn.__main__ import main

from test_compare import TINY, read_outputs

pytest.importorskip("tensorboard", reason="tensorboard is not installed "
                                          "(pip install 'torch-local-rnn[tensorboard]'; CI installs it)")
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402


def read_events(folder):
    """{tag: [(step, value), ...]} of a run folder's event files."""
    accumulator = event_accumulator.EventAccumulator(folder, size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return {tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in accumulator.Tensors(tag)]
            for tag in accumulator.Tags()["tensors"]}


def expected_from_csv(rows, rule, seed):
    """The same numbers from curves.csv: test loss at every step, train loss where there is one."""
    mine = [r for r in rows if r["rule"] == rule and r["seed"] == seed]
    return {"test_loss": [(int(r["step"]), float(r["test_loss"])) for r in mine],
            "train_loss": [(int(r["step"]), float(r["train_loss"])) for r in mine if r["train_loss"]]}


def test_tensorboard_curves_equal_curves_csv(tmp_path, capsys):
    out, logs = str(tmp_path / "out"), str(tmp_path / "tb")
    args = ["compare", *TINY, "--rules", "bptt,rflo", "--seeds", "2", "--out", out, "--tensorboard", logs]
    assert main(args) == 0
    assert logs in capsys.readouterr().out
    rows, _ = read_outputs(out)
    assert sorted(os.listdir(logs)) == ["bptt-seed0", "bptt-seed1", "rflo-seed0", "rflo-seed1"]
    for rule in ("bptt", "rflo"):
        for seed in ("0", "1"):
            expected = expected_from_csv(rows, rule, seed)
            assert len(expected["test_loss"]) == 3 and len(expected["train_loss"]) == 2
            assert read_events(os.path.join(logs, f"{rule}-seed{seed}")) == expected, (rule, seed)
    # again, with the runs loaded from the run store: the same points, once each
    assert main(args) == 0
    for name in os.listdir(logs):
        assert len(os.listdir(os.path.join(logs, name))) == 1
    assert read_events(os.path.join(logs, "rflo-seed1")) == expected_from_csv(rows, "rflo", "1")
