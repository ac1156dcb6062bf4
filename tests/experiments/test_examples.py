"""examples/jmlr_grid.py and examples/p1_dni_b.py in --quick mode: every output is written, the CSV has one
row of finite numbers per (cell, rule), and a second run with the same --out reuses the finished runs
(nothing trained again, the same numbers)."""
import csv
import json
import math
import os
import subprocess
import sys

import pytest

from helpers import ROOT, same_package_env

pytestmark = pytest.mark.slow  # every test runs an example script in a subprocess

EXAMPLES = os.path.join(ROOT, "examples")

GRID_RULES = ("output_only", "rtrl", "uoro", "kf_rtrl", "rkf_rtrl", "rflo", "kernl", "dni", "dni_b", "f_bptt", "e_bptt")


def run_example(script, out, cwd, *extra):
    """Runs ``script --quick --out out *extra`` in a fresh process that imports the same torch_local_rnn as the
    tests."""
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), "--quick", "--no-progress", "--out",
                           str(out), *extra], cwd=str(cwd), env=same_package_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    with open(os.path.join(out, "timing.json")) as f:
        return proc.stdout, json.load(f)


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def check_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", path


def check_rows(rows, keys, expected_cells, rules, seeds):
    """One row per (cell, rule), with finite numbers and every seed."""
    seen = [tuple(r[k] for k in keys) + (r["rule"],) for r in rows]
    assert sorted(seen) == sorted((*cell, rule) for cell in expected_cells for rule in rules)
    for r in rows:
        assert int(r["seeds"]) == seeds and int(r["diverged"]) == 0
        for key in ("final_mean", "final_sd", "best_mean", "seconds"):
            assert math.isfinite(float(r[key])), (key, r)
        assert float(r["best_mean"]) <= float(r["final_mean"]) + 1e-12


def check_reused(first, second, rows_first, rows_second):
    assert first["trained"] == first["runs"] > 0
    assert second["trained"] == 0 and second["runs"] == first["runs"]
    assert all(t["finished"] == t["runs"] for t in second["cells"].values())
    # the training phase (compare) only loads the run files the second time
    assert second["train_wall_seconds"] < 0.5 * first["train_wall_seconds"]
    assert rows_second == rows_first  # the same numbers, run times included (they come from the run files)


def test_jmlr_grid_quick(tmp_path):
    out = tmp_path / "grid"
    stdout, first = run_example("jmlr_grid.py", out, tmp_path)
    for name in ("grid.csv", "grid.md", "grid.png", "timing.json"):
        assert (out / name).is_file(), name
    check_png(out / "grid.png")
    cells = [(family, str(d)) for family in ("add", "mimic") for d in (0, 1)]
    for family, d in cells:
        folder = out / f"{family}-d{d}"
        assert len(list((folder / "runs").glob("*.json"))) == len(GRID_RULES) * 2
        for name in ("learning_curves.png", "curves.csv", "curves.json"):
            assert (folder / name).is_file()
    rows = read_csv(out / "grid.csv")
    assert list(rows[0]) == ["family", "d", "rule", "seeds", "final_mean", "final_sd", "best_mean", "seconds",
                             "diverged"]
    check_rows(rows, ("family", "d"), cells, GRID_RULES, seeds=2)
    md = (out / "grid.md").read_text()
    assert "| rule | d=0 | d=1 |" in md and md.count("| dni_b |") == 2 and "±" in md
    assert set(first["cells"]) == {f"{f}-d{d}" for f, d in cells}
    assert "in all:" in stdout and "add-d0" in stdout

    _, second = run_example("jmlr_grid.py", out, tmp_path)
    check_reused(first, second, rows, read_csv(out / "grid.csv"))


def without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def close_rows(got, want):
    """CSV rows equal, numbers to 1e-5 relative: a local run stacks a rule's seeds, and rflo / eprop stacks take the
    CPU's member-lane fast path (docs/algorithms.md §2.10), equal to their runs alone (Ray's tasks) to rounding."""
    def close(u, v):
        if u == v:
            return True
        try:
            return math.isclose(float(u), float(v), rel_tol=1e-5, abs_tol=1e-6)
        except ValueError:
            return False
    return len(got) == len(want) and all(a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
                                         for a, b in zip(got, want))


def test_jmlr_grid_quick_on_ray_with_tensorboard(tmp_path):
    """--backend ray: every run a task of a local Ray, the same numbers as the local run; --tensorboard: a
    folder per cell with one per run."""
    pytest.importorskip("ray", reason="ray is not installed (pip install 'torch-local-rnn[ray]'; CI installs it)")
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (CI installs it)")
    local, on_ray, logs = tmp_path / "local", tmp_path / "ray", tmp_path / "tb"
    run_example("jmlr_grid.py", local, tmp_path, "--families", "add", "--rules", "rflo,uoro")
    stdout, timing = run_example("jmlr_grid.py", on_ray, tmp_path, "--families", "add", "--rules", "rflo,uoro",
                                 "--backend", "ray", "--tensorboard", str(logs))
    assert timing["parallel"] == "ray" and timing["trained"] == timing["runs"] == 8 and "Ray: 8 runs" in stdout
    assert close_rows(without_seconds(read_csv(on_ray / "grid.csv")), without_seconds(read_csv(local / "grid.csv")))
    for d in (0, 1):
        assert close_rows(read_csv(on_ray / f"add-d{d}" / "curves.csv"), read_csv(local / f"add-d{d}" / "curves.csv"))
        assert sorted(os.listdir(logs / f"add-d{d}")) == ["rflo-seed0", "rflo-seed1", "uoro-seed0", "uoro-seed1"]


def test_p1_dni_b_quick(tmp_path):
    out = tmp_path / "p1"
    stdout, first = run_example("p1_dni_b.py", out, tmp_path)
    for name in ("p1.csv", "p1.md", "p1.png", "p1_apical.png", "timing.json", "apical/record.json"):
        assert (out / name).is_file(), name
    check_png(out / "p1.png")
    check_png(out / "p1_apical.png")
    cells = [(f"{a:g}", str(t)) for a in (1.0, 0.5, 0.3) for t in (1, 2, 4)]
    rows = read_csv(out / "p1.csv")
    check_rows(rows, ("alpha", "tau"), [(str(float(a)), t) for a, t in cells], ("dni_b", "rflo", "output_only"),
               seeds=2)
    md = (out / "p1.md").read_text()
    assert md.count("| alpha \\ tau | tau=1 | tau=2 | tau=4 |") == 3 and "Recorded run" in md
    record = json.loads((out / "apical" / "record.json").read_text())
    assert len(record["apical"]) == len(record["credit"]) == record["window"]
    assert all(math.isfinite(c) for c in record["correlation"])
    # the recorded learner is trained exactly as its compare run
    dni = next(r for r in rows if r["rule"] == "dni_b" and r["alpha"] == "0.3" and r["tau"] == "4")
    assert f"its compare run: {record['final_test_loss']:.6f}" in stdout
    assert math.isfinite(float(dni["final_mean"]))

    _, second = run_example("p1_dni_b.py", out, tmp_path)
    check_reused(first, second, rows, read_csv(out / "p1.csv"))
    assert json.loads((out / "apical" / "record.json").read_text()) == record  # reused, not redone


@pytest.mark.parametrize("script", ["jmlr_grid.py", "p1_dni_b.py"])
def test_help(script):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), "--help"], capture_output=True, text=True,
                          timeout=120, env=same_package_env())
    assert proc.returncode == 0 and "--quick" in proc.stdout
