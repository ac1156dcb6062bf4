"""Integer options from 2^63 on (a truncation, window, fix_interval or reset_interval that would wrap in int64) are
refused where the config is handed over (LocalRNN, OnlineLearner: ValueError naming the module) and by every op
(RuntimeError naming the op and the option), with "(and below 2^63)" in the message."""
import sys

import pytest
import torch
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner, ops, rules

DT = torch.float64
HUGE = [sys.maxsize, 2 ** 63, 2 ** 64, 10 ** 30]
BELOW = r"to be an integer >= 1 \(and below 2\^63\), but got "


@pytest.mark.parametrize("value", HUGE)
def test_local_rnn_refuses_huge_truncations(value):
    for cfg, option in ((rules.FBPTT(truncation=value), "truncation"), (rules.EBPTT(window=value), "window")):
        with pytest.raises(ValueError, match=rf"LocalRNN: expected {option} \(rule_options\[0\] of rule "
                                             rf"'{cfg.name}'\) {BELOW}"):
            LocalRNN(2, 3, rule=cfg)


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("make,option", [(lambda v: rules.FBPTT(truncation=v), "truncation"),
                                         (lambda v: rules.EBPTT(window=v), "window"),
                                         (lambda v: rules.DNI(fix_interval=v), "fix_interval"),
                                         (lambda v: rules.DNIb(fix_interval=v), "fix_interval"),
                                         (lambda v: rules.KeRNL(reset_interval=v), "reset_interval")],
                         ids=["f_bptt", "e_bptt", "dni", "dni_b", "kernl"])
def test_online_learner_refuses_huge_integer_options(make, option, value):
    cfg = make(value)
    with pytest.raises(ValueError, match=rf"OnlineLearner: expected {option} \(rule_options\[\d\] of rule "
                                         rf"'{cfg.name}'\) to be an integer .*\(and below 2\^63\)"):
        OnlineLearner(LocalRNN(2, 3, dtype=DT), nn.Linear(3, 2, dtype=DT), rule=cfg)


@pytest.mark.parametrize("rule,options", [("f_bptt", [2.0 ** 63]), ("e_bptt", [2.0 ** 64]),
                                          ("kernl", [1e-5, 5.0, 2.0 ** 63]),
                                          ("dni", [1e-3, 1e-3, 2.0 ** 63, 0, 0, 0, 0, 0])])
def test_ops_refuse_integer_options_from_2_63(rule, options):
    info = ops.rule_info(rule)
    form = "sequence" if info.sequence_form else "online"
    with pytest.raises(RuntimeError, match=r"rule_check: expected \w+ \(rule_options\[\d\] of rule '" + rule
                                           + r"'\) to be an integer .*\(and below 2\^63\), but got "):
        ops.check_rule(rule, options, 1.0, form)
    # the largest double below 2^63 is still an integer an int64 holds
    ok = [2.0 ** 63 - 1024.0 if v >= 2.0 ** 63 else v for v in options]
    ops.check_rule(rule, ok, 1.0, form)
    if info.sequence_form:  # and the op itself, not only the registry check
        T, B, I, n = 2, 1, 1, 2
        x, h0 = torch.zeros(T, B, I, dtype=DT), torch.zeros(B, n, dtype=DT)
        W, U, b = torch.eye(n, dtype=DT), torch.ones(n, I, dtype=DT), torch.zeros(n, dtype=DT)
        with pytest.raises(RuntimeError, match=r"leaky_rnn: .*\(and below 2\^63\)"):
            ops.leaky_rnn(x, h0, W, U, b, 1.0, "tanh", rule, options, [])


def test_rule_flags_agree_with_the_fakes_and_the_descriptors():
    """What the modules read from a config instead of comparing rule names: the recording rules (the fakes'
    list, the descriptors' records flag), the rules whose sequence form draws noise, the label state."""
    from torch_local_rnn import _checks
    recording = {name for name, cls in rules.RULES.items() if cls.records}
    assert recording == set(_checks.RECORDING_RULES) == {"dni", "dni_b"}
    assert {name for name, cls in rules.RULES.items() if cls.sequence_noise} == {"uoro", "kf_rtrl", "rkf_rtrl"}
    for name, cls in rules.RULES.items():
        if cls.label_state is not None:
            assert cls.label_state in cls().online_state(2, 3, 2, outputs=2, dtype=torch.float64)
