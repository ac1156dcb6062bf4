"""``compare --backend ray`` on a local 2-CPU Ray: the same curves as the local backend for the same seeds,
the run store written and resumed as with the local backend, and the command line's run end to end."""
import os

import pytest

from torch_local_rnn.__main__ import main
from torch_local_rnn.experiments.runner import compare
from torch_local_rnn.experiments.store import run_paths

from test_compare import TINY, curves, read_outputs, same, small_config

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'torch-local-rnn[ray]'; CI installs it)")
# Not slow: about 15 s on 2 cores, most of it starting Ray and its workers once for the module.


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray of 2 CPUs for the module; compare uses the Ray it finds running."""
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def test_ray_equals_local_and_writes_the_run_store(tmp_path):
    config = dict(rules=("rflo", "uoro"), seeds=2)  # uoro: a stochastic rule, its noise seeded per run
    local = compare(small_config(**config, jobs=1), progress=False)
    out = str(tmp_path / "ray")
    on_ray = compare(small_config(**config, backend="ray"), progress=False, out_dir=out)
    for rule in ("rflo", "uoro"):
        for seed in ("0", "1"):
            assert same(curves(on_ray["results"][rule][seed]), curves(local["results"][rule][seed])), (rule, seed)
            assert os.path.exists(run_paths(out, rule, int(seed))[0])
    assert on_ray["config"]["backend"] == "ray"


def test_ray_resumes_from_checkpoints_and_loads_finished_runs(tmp_path):
    kw = dict(rules=("uoro", "rflo"), backend="ray", checkpoint_every=50)
    whole = compare(small_config(**kw), progress=False)["results"]
    out = str(tmp_path / "resume")
    stopped = compare(small_config(**kw), progress=False, out_dir=out, stop_after=100)
    assert sorted(stopped["interrupted"]) == ["rflo-seed0", "uoro-seed0"]
    assert all(os.path.exists(run_paths(out, rule, 0)[1]) for rule in ("uoro", "rflo"))
    resumed = compare(small_config(**kw), progress=False, out_dir=out)["results"]
    for rule in ("uoro", "rflo"):
        assert same(curves(resumed[rule]["0"]), curves(whole[rule]["0"])), rule
        json_path, pt_path = run_paths(out, rule, 0)
        assert os.path.exists(json_path) and not os.path.exists(pt_path)
    again = compare(small_config(**kw), progress=False, out_dir=out)["results"]
    assert same(again, resumed)  # loaded from the run files, seconds included


def test_command_line_backend_ray_equals_local(tmp_path, capsys):
    args = ["compare", *TINY, "--rules", "bptt,rflo", "--seeds", "2"]
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--backend", "ray", "--out", str(tmp_path / "ray")]) == 0
    local, on_ray = read_outputs(str(tmp_path / "local")), read_outputs(str(tmp_path / "ray"))
    assert local[0] == on_ray[0]  # curves.csv, row by row
    assert same({r: {s: curves(v) for s, v in by_seed.items()} for r, by_seed in local[1]["results"].items()},
                {r: {s: curves(v) for s, v in by_seed.items()} for r, by_seed in on_ray[1]["results"].items()})
