"""`python -m torch_local_rnn compare`: a tiny run of each mode writes the table, PNG, CSV, JSON."""
import csv
import math
import json
import os

import pytest
import torch

from torch_local_rnn import compare
from torch_local_rnn.__main__ import main

TINY = ["--steps", "200", "--batch", "4", "--window", "50", "--test-steps", "300", "--test-streams", "2",
        "--eval-every", "100", "--no-progress"]


def read_outputs(out):
    with open(os.path.join(out, "curves.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(out, "curves.json")) as f:
        report = json.load(f)
    png = os.path.join(out, "learning_curves.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return rows, report


def test_sequence_mode_writes_table_and_files(tmp_path, capsys):
    out = str(tmp_path / "res")
    assert main(["compare", *TINY, "--out", out]) == 0
    text = capsys.readouterr().out
    for word in ("bptt", "rflo", "final test loss", "0.6616", "0.5192", "0.4545", "nothing learned",
                 "first dependency", "optimum", "learning_curves.png"):
        assert word in text
    rows, report = read_outputs(out)
    assert {r["rule"] for r in rows} == {"bptt", "rflo"}
    assert [int(r["step"]) for r in rows if r["rule"] == "bptt"] == [0, 100, 200]
    assert rows[0]["train_loss"] == "" and rows[1]["train_loss"] != ""
    assert report["config"]["steps"] == 200 and report["config"]["mode"] == "sequence"
    assert {k: round(v, 4) for k, v in report["reference_levels"].items()} == \
        {"nothing learned": 0.6616, "first dependency": 0.5192, "optimum": 0.4545}
    bptt, rflo = report["results"]["bptt"], report["results"]["rflo"]
    # same initial weights, same test data: identical first point; different rules: different training
    assert bptt["test_loss"][0] == rflo["test_loss"][0]
    assert bptt["final_test_loss"] != rflo["final_test_loss"]
    assert bptt["final_test_loss"] == bptt["test_loss"][-1]
    assert all(math.isfinite(v) for v in bptt["test_loss"])


def test_online_mode_runs_rflo_and_says_bptt_has_none(tmp_path, capsys):
    out = str(tmp_path / "online")
    assert main(["compare", "--mode", "online", "--steps", "300", "--eval-every", "100", "--test-steps", "200",
                 "--test-streams", "1", "--no-progress", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "online" in text and "bptt" in text and "no online form" in text
    rows, report = read_outputs(out)
    assert {r["rule"] for r in rows} == {"rflo"}
    assert report["config"]["batch"] == 1 and report["config"]["lr"] == compare.DEFAULTS["online"]["lr"]
    assert "bptt" in report["skipped"] and len(report["results"]["rflo"]["steps"]) == 4
    assert main(["compare", "--mode", "online", "--rules", "bptt", "--steps", "10", "--no-progress",
                 "--out", out]) == 1


def test_same_initial_network_for_every_rule():
    config = compare.CompareConfig(seed=3)
    a, b = compare.make_network(config, "bptt"), compare.make_network(config, "rflo")
    assert a[0].rule_name == "bptt" and b[0].rule_name == "rflo"
    for p, q in zip([*a[0].parameters(), *a[1].parameters()], [*b[0].parameters(), *b[1].parameters()]):
        assert torch.equal(p, q)
    c = compare.make_network(compare.CompareConfig(seed=4), "bptt")
    assert not torch.equal(a[0].weight_hh, c[0].weight_hh)


def test_threads_restored_and_bad_arguments(tmp_path, capsys):
    before = torch.get_num_threads()
    compare.compare(compare.CompareConfig(rules=("rflo",), steps=50, batch=2, test_steps=50, test_streams=1),
                    progress=False)
    assert torch.get_num_threads() == before
    assert main(["compare", "--rules", "bptt,nope", "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", "--mode", "nope"])
    assert main([]) == 2  # no command: help
