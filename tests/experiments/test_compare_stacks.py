"""compare in online mode trains a rule's seeds as one stack (experiments/train_stack.py): every run's result is
bitwise the run alone (rflo / eprop at batch 1: to rounding, the CPU's member-lane fast path), with files, checkpoints, resumption and the early stop."""
import json
import math

import pytest

from torch_local_rnn import rules
from torch_local_rnn.experiments.config import CompareConfig
from torch_local_rnn.experiments.runner import compare, plan_groups
from torch_local_rnn.experiments.store import run_paths
from torch_local_rnn.experiments.train import run_one
from torch_local_rnn.experiments.train_stack import run_stack

ONLINE = sorted(name for name, cls in rules.RULES.items() if cls.has_online_form)


def config(**kw):
    base = dict(mode="online", rules=("rflo",), steps=300, batch=1, hidden=8, test_steps=100, test_streams=2,
                eval_every=100, jobs=1)
    base.update(kw)
    return CompareConfig(**base)


# rflo and eprop at batch 1 take the CPU's member-lane fast path in a stack (docs/algorithms.md §2.10): a run there
# equals its run alone to rounding (float32), not bitwise; every other rule's stacked run is bitwise its run alone.
FAST_PATH_RULES = ("rflo", "eprop")


def same(a, b, close=False):
    """Results equal in every entry but the time, nan = nan; with close, floats equal to 1e-5 relative."""
    def eq(u, v):
        if isinstance(u, list):
            return len(u) == len(v) and all(eq(p, q) for p, q in zip(u, v))
        if close and isinstance(u, float) and isinstance(v, float) and math.isclose(u, v, rel_tol=1e-5, abs_tol=1e-6):
            return True
        return u == v or (isinstance(u, float) and math.isnan(u) and math.isnan(v))
    return all(eq(a[k], b[k]) for k in a if k != "seconds") and set(a) == set(b)


@pytest.mark.parametrize("rule", ONLINE)
def test_a_stack_equals_its_runs_alone(rule):
    c = config(rules=(rule,), task="add")
    stacked = run_stack(c, [(rule, 0), (rule, 1), (rule, 2)])
    for seed, result in zip([0, 1, 2], stacked):
        assert same(result, run_one(c, rule, seed), close=rule in FAST_PATH_RULES), (rule, seed)


def test_compare_with_and_without_stacks(tmp_path):
    kw = dict(rules=("rflo", "uoro"), seeds=3, task="mimic", task_options={"difficulty": 2})
    on = compare(config(**kw), progress=False, out_dir=str(tmp_path / "on"))
    off = compare(config(stack=False, **kw), progress=False, out_dir=str(tmp_path / "off"))
    for rule in ("rflo", "uoro"):
        for seed in ("0", "1", "2"):
            assert same(on["results"][rule][seed], off["results"][rule][seed], close=rule in FAST_PATH_RULES)
            with open(run_paths(str(tmp_path / "on"), rule, int(seed))[0]) as f:
                assert json.load(f)["identity"]["seed"] == int(seed)


def test_stack_stops_at_a_checkpoint_and_resumes(tmp_path):
    c = config(rules=("dni_b",), steps=400, seeds=2)
    out = str(tmp_path / "o")
    first = compare(c, progress=False, out_dir=out, stop_after=200)
    assert sorted(first["interrupted"]) == ["dni_b-seed0", "dni_b-seed1"]
    resumed = compare(c, progress=False, out_dir=out)  # the checkpointed runs resume alone
    never = compare(config(rules=("dni_b",), steps=400, seeds=2, stack=False), progress=False)
    for seed in ("0", "1"):
        assert same(resumed["results"]["dni_b"][seed], never["results"]["dni_b"][seed])


def test_a_member_that_reaches_the_criterion_leaves_the_stack():
    c = config(rules=("rflo",), steps=400, seeds=3)
    alone = [run_one(c, "rflo", s) for s in range(3)]
    # a threshold between the seeds' losses at step 100: some stop there, the others go on
    at_100 = sorted(r["test_loss"][1] for r in alone)
    threshold = (at_100[0] + at_100[1]) / 2
    c = config(rules=("rflo",), steps=400, seeds=3, stop_below=threshold)
    stacked = run_stack(c, [("rflo", 0), ("rflo", 1), ("rflo", 2)])
    assert sum(r["stopped"] for r in stacked) >= 1 and any(len(r["steps"]) == 5 for r in stacked)
    for seed, result in enumerate(stacked):
        assert same(result, run_one(c, "rflo", seed), close=True)


def test_groups():
    c = config(rules=("rflo", "uoro"))
    pending = [(r, s) for r in ("rflo", "uoro") for s in range(5)]
    assert plan_groups(c, pending, 1) == [pending[:5], pending[5:]]
    assert plan_groups(c, pending, 4) == [pending[:3], pending[3:5], pending[5:8], pending[8:]]
    assert plan_groups(config(stack=False), pending[:2], 4) == [[("rflo", 0)], [("rflo", 1)]]
    assert plan_groups(config(mode="sequence", rules=("bptt",)), [("bptt", 0)], 1) == [[("bptt", 0)]]
    with pytest.raises(ValueError, match="online mode only"):
        run_stack(config(mode="sequence", rules=("bptt",)), [("bptt", 0), ("bptt", 1)])
    # variants stack with their rule; another feedback kind cannot share an ensemble
    c = config(rules=("rflo", "rflo@trace_alpha=0.5", "rflo@feedback=random"))
    pending = [(r, 0) for r in c.rules]
    assert plan_groups(c, pending, 1) == [pending[:2], pending[2:]]
    with pytest.raises(ValueError, match="one rule kind and feedback kind"):
        run_stack(c, pending)


def test_a_sweep_stacks_and_equals_its_runs_alone():
    c = config(rules=("kernl@lr=0", "kernl@lr=1@sigma=0.001", "kernl"), rule_options={"kernl": {"sigma": 1e-2}})
    assert c.rule_config("kernl@lr=0") == rules.KeRNL(sigma=1e-2, lr=0)
    assert c.rule_config("kernl@lr=1@sigma=0.001") == rules.KeRNL(sigma=1e-3, lr=1)
    runs = [(r, s) for r in c.rules for s in (0, 1)]
    for run, result in zip(runs, run_stack(c, runs)):
        assert same(result, run_one(c, *run)), run


def test_sweep_flag_and_variant_errors():
    from torch_local_rnn.experiments.variants import expand_sweeps, parse_sweeps
    sweeps = parse_sweeps(["kernl.lr=0,5", "kernl.sigma=1e-3,1e-7", "dni.lr_sg=0.01"])
    assert expand_sweeps(("rflo", "kernl"), sweeps) == (
        "rflo", "kernl@lr=0@sigma=0.001", "kernl@lr=0@sigma=1e-07", "kernl@lr=5@sigma=0.001",
        "kernl@lr=5@sigma=1e-07", "dni@lr_sg=0.01")
    with pytest.raises(ValueError, match=r"--sweep: expected RULE.OPTION=V1,V2"):
        parse_sweeps(["kernl=1,2"])
    with pytest.raises(ValueError, match=r"expected a rule variant as RULE@KEY=VALUE"):
        config(rules=("kernl@lr",))
    with pytest.raises(ValueError, match=r"has options .* but got \['bogus'\]"):
        config(rules=("kernl@bogus=1",))
    with pytest.raises(ValueError, match=r"or variants RULE@KEY=VALUE\), but got 'nope@lr=1'"):
        config(rules=("nope@lr=1",))
