"""The papers' configurations (docs/algorithms.md §6.5): rules.<Rule>.paper(year), compare's presets, and the 2019
protocol's options (l2, random start states, the early stop)."""
import math

import pytest
import torch

from torch_local_rnn import OnlineLearner, losses, rules
from torch_local_rnn.__main__ import main
from torch_local_rnn.experiments import cli
from torch_local_rnn.experiments.config import CompareConfig
from torch_local_rnn.experiments.presets import PRESETS, preset_config
from torch_local_rnn.experiments.train import make_network, noise_generator, run_one, evaluation_start


def test_dnib_paper_2019_is_the_2019_showcase():
    """The settings of the Feb-2019 job (docs/algorithms.md §6.1), written out here, not read from the code."""
    cfg = rules.DNIb.paper(2019)
    assert (cfg.lr_sg, cfg.lr_j, cfg.fix_interval, cfg.version) == (1e-2, 1e-2, 5, 2019)
    assert cfg.feedback == "random" and cfg.approximate_jacobian and cfg.tanh_target
    assert (rules.DNIb.paper(2020).lr_sg, rules.DNIb.paper(2020).version) == (1e-3, 2020)


@pytest.mark.parametrize("name", sorted(rules.RULES))
def test_every_rule_has_both_papers_and_they_check(name):
    for year in (2019, 2020):
        cfg = rules.RULES[name].paper(year)
        assert type(cfg) is rules.RULES[name]
        cfg.check(0.5, "online" if cfg.has_online_form else "sequence", "test")


def test_papers_settings_of_the_grids():
    assert rules.FBPTT.paper(2020).truncation == 21 and rules.FBPTT.paper(2019).truncation == 10
    kernl = rules.KeRNL.paper(2020)
    assert (kernl.sigma, kernl.lr) == (1e-3, 5.0)
    assert rules.KeRNL.paper(2019).version == "2019-approx"
    assert rules.RFLO.paper(2019).feedback == "random" and rules.RFLO.paper(2020).feedback == "symmetric"
    for cls in (rules.RTRL, rules.UORO, rules.KFRTRL, rules.RKFRTRL, rules.EBPTT):  # §2.6: alpha omitted
        assert cls.paper(2020).legacy_alpha_omission


@pytest.mark.parametrize("year", [2018, 2021, "2019", True])
def test_paper_year_errors_name_the_year(year):
    with pytest.raises(ValueError, match=r"DNIb.paper: expected year from \[2019, 2020\].*but got"):
        rules.DNIb.paper(year)


def test_p1_preset_is_the_2019_showcase():
    c = preset_config("p1-2019")
    assert c.task_instance().t1 == 3 and c.task_instance().t2 == 5 and c.task_instance().tau == 4
    assert (c.alpha, c.hidden, c.lr, c.l2, c.steps, c.test_steps) == (0.3, 32, 5e-4, 1e-4, 200_000, 5_000)
    assert (c.initial_state, c.stop_below, c.eval_every, c.mode, c.batch) == ("random", 0.52, 2_000, "online", 1)
    assert c.rule_config("dni_b") == rules.DNIb.paper(2019)
    assert c.rule_config("rflo") == rules.RFLO.paper(2019)
    assert set(c.rules) == {"dni_b", "rflo", "output_only"}


def test_jmlr_preset_other_family_keeps_the_difficulty():
    c = preset_config("jmlr-2020", task="mimic", task_options={"difficulty": 4})
    assert abs(c.task_instance().scale - 0.9) < 1e-12
    assert c.rule_config("kernl") == rules.KeRNL.paper(2020) and len(c.rules) == 11
    c = preset_config("jmlr-2020", rules=("rflo", "kernl"), rule_options={"kernl": {"lr": 1.0}})
    assert c.rule_config("kernl") == rules.KeRNL(sigma=1e-3, lr=1.0, perturbed_init="construction_state")
    assert set(c.rule_options) == {"kernl"}


def parse(argv):
    import argparse
    parser = argparse.ArgumentParser()
    cli.add_compare_arguments(parser)
    return cli.compare_config_from_args(parser.parse_args(argv))


def test_cli_preset_then_explicit_flags_win():
    c = parse(["--preset", "p1-2019", "--alpha", "1", "--t1", "2", "--rule-option", "dni_b.lr_sg=0.05", "--seeds", "3"])
    assert c.alpha == 1.0 and c.task_instance().t1 == 2 and c.task_instance().t2 == 5 and c.seeds == 3
    assert c.rule_config("dni_b").lr_sg == 0.05 and c.rule_config("dni_b").lr_j == 1e-2 and c.preset == "p1-2019"
    assert c.lr == 5e-4 and c.l2 == 1e-4


def test_cli_without_preset_keeps_the_defaults():
    c = parse([])
    assert (c.mode, c.rules, c.hidden, c.alpha, c.test_streams, c.test_steps, c.lr, c.steps) == \
        ("sequence", ("bptt", "rflo"), 32, 1.0, 8, 10_000, 1e-3, 100_000)
    assert (c.l2, c.initial_state, c.test_state, c.stop_below, c.preset) == (0.0, "zeros", "zeros", None, None)
    c = parse(["--mode", "online", "--l2", "1e-3"])
    assert (c.lr, c.batch, c.l2) == (1e-3, 1, 1e-3)


def test_bad_protocol_options_are_named(capsys):
    with pytest.raises(ValueError, match=r"initial_state 'random' is for --mode online"):
        CompareConfig(mode="sequence", initial_state="random")
    with pytest.raises(ValueError, match=r"l2 \(--l2\) to be a finite number >= 0, but got -1"):
        CompareConfig(l2=-1.0)
    with pytest.raises(ValueError, match=r"test_state \(--test-state\) from \['zeros', 'random'\], but got 'one'"):
        CompareConfig(test_state="one")
    with pytest.raises(SystemExit):
        main(["compare", "--preset", "p2"])
    assert "invalid choice: 'p2'" in capsys.readouterr().err


def small(**kw):
    base = dict(mode="online", rules=("rflo",), steps=300, batch=1, test_steps=200, test_streams=2, eval_every=100,
                hidden=8)
    base.update(kw)
    return CompareConfig(**base)


def test_stop_below_ends_the_run_at_the_first_evaluation_below():
    never = run_one(small(), "rflo", 0)
    assert never["steps"] == [0, 100, 200, 300]
    threshold = never["test_loss"][2] + 1e-9  # reached at step 200 (if not already at 100)
    stopped = run_one(small(stop_below=threshold), "rflo", 0)
    first = next(s for s, v in zip(never["steps"][1:], never["test_loss"][1:]) if v < threshold)
    assert stopped["steps"][-1] == first and stopped["test_loss"] == never["test_loss"][:len(stopped["steps"])]


def test_l2_and_random_start_reach_the_learner():
    """The run with l2 and a random start equals an OnlineLearner built by hand with them (same network,
    data, generator), step for step on the test curve's last point."""
    config = small(l2=0.05, initial_state="random", test_state="random", eval_every=300)
    result = run_one(config, "rflo", 0)
    rnn, readout = make_network(config, "rflo", 0)
    learner = OnlineLearner(rnn, readout, loss="cross_entropy", lr=config.lr, rule=config.rule_config("rflo"),
                            generator=noise_generator(0, 1), initial_state="random", l2=0.05)
    task = config.task_instance()
    x, y = task.generate(300, 1, seed=config.data_seed(0))
    learner.fit(x, y, chunk_size=300)
    tx, ty = task.generate(200, 2, seed=config.test_seed(0))
    start = evaluation_start(config, 0)
    assert start is not None and start.shape == (2, 8) and float(start.abs().max()) < 1
    with torch.no_grad():
        out, _ = rnn(tx, start.unsqueeze(0))
        expected = losses.per_step_loss(readout(out), ty, "cross_entropy").mean().item()
    assert math.isclose(result["final_test_loss"], expected, rel_tol=1e-6)
    plain = run_one(small(eval_every=300), "rflo", 0)
    assert plain["final_test_loss"] != result["final_test_loss"]


def test_protocol_options_enter_the_identity_only_when_set():
    assert "l2" not in small().identity("rflo", 0)
    assert small(l2=1e-4, stop_below=0.5).identity("rflo", 0)["l2"] == 1e-4
    assert set(PRESETS) >= {"p1-2019", "jmlr-2020"}


def test_summary_of_runs_that_stopped_early_keeps_their_last_value():
    from torch_local_rnn.experiments.report import summarise
    full = {"steps": [0, 10, 20], "test_loss": [0.7, 0.6, 0.5], "train_loss": [float("nan"), 0.65, 0.55],
            "final_test_loss": 0.5, "best_test_loss": 0.5, "seconds": 1.0, "stopped": False}
    early = {"steps": [0, 10], "test_loss": [0.7, 0.4], "train_loss": [float("nan"), 0.45],
             "final_test_loss": 0.4, "best_test_loss": 0.4, "seconds": 0.5, "stopped": True}
    s = summarise({0: full, 1: early})
    assert s["steps"] == [0, 10, 20] and s["stopped"] == 1
    assert [round(v, 12) for v in s["test_mean"]] == [0.7, 0.5, 0.45]
    assert round(s["train_mean"][2], 12) == 0.55 and round(s["final_mean"], 12) == 0.45
