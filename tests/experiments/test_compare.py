"""`python -m torch_local_rnn compare`: tiny runs write the table, PNG, CSV, JSON; seeds, summary statistics,
parallel runs, resuming and the config check."""
import csv
import json
import math
import os
import statistics

import pytest
import torch

from torch_local_rnn.experiments.config import DEFAULTS, CompareConfig
from torch_local_rnn.experiments.runner import compare
from torch_local_rnn.experiments.store import ConfigMismatchError, run_paths
from torch_local_rnn.experiments.train import make_network, run_one
from torch_local_rnn.__main__ import main

TINY = ["--steps", "200", "--batch", "4", "--window", "50", "--test-steps", "300", "--test-streams", "2",
        "--eval-every", "100", "--no-progress", "--jobs", "1"]


def read_outputs(out):
    with open(os.path.join(out, "curves.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(out, "curves.json")) as f:
        report = json.load(f)
    png = os.path.join(out, "learning_curves.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return rows, report


def curves(result):
    """What must be equal between two runs of the same (rule, seed): everything but the time."""
    return {k: v for k, v in result.items() if k != "seconds"}


def same(a, b):
    """Equal, nan == nan (and None, nan as JSON writes it)."""
    nan = lambda v: v is None or (isinstance(v, float) and math.isnan(v))  # noqa: E731
    if nan(a) or nan(b):
        return nan(a) and nan(b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_sequence_mode_writes_table_and_files(tmp_path, capsys):
    out = str(tmp_path / "res")
    assert main(["compare", *TINY, "--out", out]) == 0
    text = capsys.readouterr().out
    for word in ("bptt", "rflo", "final test loss", "0.6616", "0.5192", "0.4545", "nothing learned",
                 "first dependency", "optimum", "learning_curves.png", "±"):
        assert word in text
    rows, report = read_outputs(out)
    assert list(rows[0]) == ["rule", "seed", "step", "test_loss", "train_loss"]
    assert {r["rule"] for r in rows} == {"bptt", "rflo"} and {r["seed"] for r in rows} == {"0"}
    assert [int(r["step"]) for r in rows if r["rule"] == "bptt"] == [0, 100, 200]
    assert rows[0]["train_loss"] == "" and rows[1]["train_loss"] != ""
    assert report["config"]["steps"] == 200 and report["config"]["mode"] == "sequence"
    assert report["loss"] == "cross_entropy" and report["seeds"] == [0]
    assert {k: round(v, 4) for k, v in report["reference_levels"].items()} == \
        {"nothing learned": 0.6616, "first dependency": 0.5192, "optimum": 0.4545}
    bptt, rflo = report["results"]["bptt"]["0"], report["results"]["rflo"]["0"]
    # same initial weights, same test data: identical first point; different rules: different training
    assert bptt["test_loss"][0] == rflo["test_loss"][0]
    assert bptt["final_test_loss"] != rflo["final_test_loss"]
    assert bptt["final_test_loss"] == bptt["test_loss"][-1]
    assert all(math.isfinite(v) for v in bptt["test_loss"])
    assert report["summary"]["bptt"]["n"] == 1 and report["summary"]["bptt"]["final_sd"] == 0.0
    assert sorted(os.listdir(os.path.join(out, "runs"))) == ["bptt-seed0.json", "rflo-seed0.json"]


def test_online_mode_runs_rflo_and_says_bptt_has_none(tmp_path, capsys):
    out = str(tmp_path / "online")
    assert main(["compare", "--mode", "online", "--steps", "300", "--eval-every", "100", "--test-steps", "200",
                 "--test-streams", "1", "--no-progress", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "online" in text and "bptt" in text and "no online form" in text
    rows, report = read_outputs(out)
    assert {r["rule"] for r in rows} == {"rflo"}
    assert report["config"]["batch"] == 1 and report["config"]["lr"] == DEFAULTS["online"]["lr"]
    assert "bptt" in report["skipped"] and len(report["results"]["rflo"]["0"]["steps"]) == 4
    assert main(["compare", "--mode", "online", "--rules", "bptt", "--steps", "10", "--no-progress",
                 "--out", out]) == 1
    # and the other way round: DNI has no sequence form
    assert main(["compare", *TINY, "--rules", "dni_b", "--out", str(tmp_path / "dni")]) == 1
    assert "no sequence form" in capsys.readouterr().out


def test_same_initial_network_for_every_rule():
    config = CompareConfig(rules=("bptt", "rflo", "uoro", "dni_b"), seed=3)
    nets = [make_network(config, r) for r in config.rules]
    assert [n[0].rule_name for n in nets] == ["bptt", "rflo", "uoro", "bptt"]  # dni_b: online only
    for other in nets[1:]:  # the stochastic rule's noise generator does not shift the readout's draws
        for p, q in zip([*nets[0][0].parameters(), *nets[0][1].parameters()],
                        [*other[0].parameters(), *other[1].parameters()]):
            assert torch.equal(p, q)
    c = make_network(config, "bptt", seed=4)
    assert not torch.equal(nets[0][0].weight_hh_l0, c[0].weight_hh_l0)


def test_threads_restored_and_bad_arguments(tmp_path, capsys):
    before = torch.get_num_threads()
    compare(CompareConfig(rules=("rflo",), steps=50, batch=2, test_steps=50, test_streams=1),
                    progress=False)
    assert torch.get_num_threads() == before
    assert main(["compare", "--rules", "bptt,nope", "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    for bad, word in ((["--rule-option", "kernl.sigma=1e-3"], "not among the rules"),
                      (["--rules", "kernl", "--rule-option", "kernl.nope=1"], "nope"),
                      (["--rules", "f_bptt", "--rule-option", "f_bptt.truncation=0"], "truncation"),
                      (["--rule-option", "sigma=1"], "RULE.OPTION"),
                      (["--task", "mimic", "--t1", "3"], "add task"),
                      (["--task-option", "nope=1"], "nope"),
                      (["--seeds", "0"], "seeds")):
        assert main(["compare", *TINY, *bad, "--out", str(tmp_path / "bad")]) == 2
        assert word in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", "--mode", "nope"])
    assert main([]) == 2  # no command: help


def test_other_task_with_task_and_rule_options(tmp_path, capsys):
    out = str(tmp_path / "mimic")
    assert main(["compare", *TINY, "--task", "mimic", "--task-option", "difficulty=3", "--task-option", "target_seed=2",
                 "--rules", "f_bptt,e_bptt", "--rule-option", "f_bptt.truncation=5",
                 "--rule-option", "e_bptt.window=10", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "MimicTask(" in text and "scale=0.8" in text and "no exactly computable reference levels" in text
    rows, report = read_outputs(out)
    assert report["loss"] == "mse" and report["reference_levels"] == {}
    assert report["config"]["rule_options"]["f_bptt"]["truncation"] == 5
    assert report["config"]["rule_options"]["e_bptt"]["window"] == 10
    assert report["config"]["task_options"] == {"difficulty": 3, "target_seed": 2}
    assert all(math.isfinite(float(r["test_loss"])) for r in rows)
    # the add shortcuts are task options
    config = CompareConfig(t1=2, t2=4, task_options={"tau": 2})
    assert repr(config.task_instance()) == "AddTask(t1=2, t2=4, tau=2, deterministic=True)"


def test_seeds_summary_and_same_seed_same_result(tmp_path, capsys):
    out = str(tmp_path / "seeds")
    assert main(["compare", *TINY, "--rules", "rflo", "--seeds", "3", "--seed", "5", "--out", out]) == 0
    text = capsys.readouterr().out
    rows, report = read_outputs(out)
    assert report["seeds"] == [5, 6, 7] and set(report["results"]["rflo"]) == {"5", "6", "7"}
    per_seed = report["results"]["rflo"]
    finals = [per_seed[s]["final_test_loss"] for s in ("5", "6", "7")]
    # seeds differ: weights, training data and test data
    assert len(set(finals)) == 3 and len({per_seed[s]["test_loss"][0] for s in per_seed}) == 3
    s = report["summary"]["rflo"]
    assert s["n"] == 3 and s["diverged"] == 0
    assert s["final_mean"] == pytest.approx(sum(finals) / 3, rel=1e-12)
    sd = math.sqrt(sum((v - sum(finals) / 3) ** 2 for v in finals) / 2)  # sample sd, n - 1
    assert s["final_sd"] == pytest.approx(sd, rel=1e-12) and sd > 0
    assert s["best_mean"] == pytest.approx(statistics.fmean(min(per_seed[k]["test_loss"]) for k in per_seed))
    for k, step in enumerate(s["steps"]):
        values = [per_seed[seed]["test_loss"][k] for seed in per_seed]
        assert s["test_mean"][k] == pytest.approx(statistics.fmean(values), rel=1e-12)
        assert s["test_sd"][k] == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert f"{s['final_mean']:.4f} ± {s['final_sd']:.4f}" in text
    # the CSV holds the same numbers, every seed
    for r in rows:
        curve = per_seed[r["seed"]]
        assert float(r["test_loss"]) == curve["test_loss"][curve["steps"].index(int(r["step"]))]
    # the same seed alone gives the same result
    alone = compare(CompareConfig(rules=("rflo",), steps=200, batch=4, window=50, test_steps=300,
                                                  test_streams=2, eval_every=100, seed=6, jobs=1), progress=False)
    assert same(curves(alone["results"]["rflo"]["6"]), curves(per_seed["6"]))


def small_config(**kw):
    base = dict(rules=("rflo", "uoro"), steps=200, batch=3, window=25, test_steps=200, test_streams=2,
                eval_every=50, seeds=1)
    base.update(kw)
    return CompareConfig(**base)


@pytest.mark.slow  # spawns worker processes
def test_parallel_equals_serial(tmp_path):
    serial = compare(small_config(jobs=1), progress=False)
    parallel = compare(small_config(jobs=2), progress=False, out_dir=str(tmp_path / "par"))
    for rule in ("rflo", "uoro"):
        assert same(curves(serial["results"][rule]["0"]), curves(parallel["results"][rule]["0"]))
    assert os.path.exists(tmp_path / "par" / "runs" / "uoro-seed0.json")


@pytest.mark.parametrize("mode,rule", [("sequence", "uoro"), ("online", "dni_b")])
def test_resume_equals_uninterrupted(tmp_path, mode, rule):
    """Stop a run at a checkpoint, resume it from the run files: the same curve as a run that never stopped
    (stochastic rules: uoro's noise generator and Adam's state; DNI(b)'s learned apical weights)."""
    kw = dict(mode=mode, rules=(rule,), batch=2 if mode == "sequence" else 1, lr=1e-2 if mode == "online" else 1e-3,
              jobs=1, checkpoint_every=50)
    whole = compare(small_config(**kw), progress=False)["results"][rule]["0"]
    out = str(tmp_path / "resume")
    json_path, pt_path = run_paths(out, rule, 0)
    assert run_one(small_config(**kw), rule, 0, out, stop_after=100) is None
    assert os.path.exists(pt_path) and not os.path.exists(json_path)
    assert torch.load(pt_path, weights_only=True)["done"] == 100
    resumed = compare(small_config(**kw), progress=False, out_dir=out)["results"][rule]["0"]
    assert same(curves(resumed), curves(whole))
    assert os.path.exists(json_path) and not os.path.exists(pt_path)
    again = compare(small_config(**kw), progress=False, out_dir=out)["results"][rule]["0"]
    assert same(again, resumed)  # loaded from the run file, seconds included


def test_stop_after_and_resume_from_the_command_line(tmp_path, capsys):
    out, whole = str(tmp_path / "stopped"), str(tmp_path / "whole")
    args = ["compare", *TINY, "--rules", "rflo", "--checkpoint-every", "100", "--steps", "300"]
    assert main([*args, "--out", out, "--stop-after", "150"]) == 3
    assert "run the same command again" in capsys.readouterr().err
    assert os.listdir(os.path.join(out, "runs")) == ["rflo-seed0.pt"] and not os.path.exists(out + "/curves.json")
    assert main([*args, "--out", out]) == 0
    assert main([*args, "--out", whole]) == 0
    a, b = read_outputs(out)[1], read_outputs(whole)[1]
    assert same(curves(a["results"]["rflo"]["0"]), curves(b["results"]["rflo"]["0"]))


def test_config_mismatch_is_an_error(tmp_path, capsys):
    out = str(tmp_path / "mismatch")
    assert main(["compare", *TINY, "--rules", "rflo", "--out", out]) == 0
    assert main(["compare", *TINY, "--rules", "rflo", "--lr", "0.01", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "another configuration" in err and "rflo-seed0.json" in err and "lr" in err
    # a checkpoint is checked too
    config = small_config(rules=("rflo",), jobs=1)
    run_one(config, "rflo", 0, str(tmp_path / "pt"), stop_after=50)
    with pytest.raises(ConfigMismatchError, match="rflo-seed0.pt.*steps"):
        compare(small_config(rules=("rflo",), steps=300), progress=False, out_dir=str(tmp_path / "pt"))
    # adding a rule or a seed to a folder is fine: the runs already there are reused
    assert main(["compare", *TINY, "--rules", "rflo,bptt", "--seeds", "2", "--out", out]) == 0
