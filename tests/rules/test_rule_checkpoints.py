"""Rule configs in checkpoints: a checkpoint whose hyper-parameters hold a rule config (as a Lightning module's
do) loads with torch.load(weights_only=True), PyTorch's default, and gives the same config back; the package's
sub-packages are reachable from ``import torch_local_rnn as tlr``."""
import io
import subprocess
import sys

import pytest
import torch

from torch_local_rnn import LocalRNN, rules

NON_DEFAULT = {
    "rtrl": dict(legacy_alpha_omission=True),
    "uoro": dict(noise_kind="gaussian", rho0=2.0, rho1=0.5, epsilon=1e-3),
    "kf_rtrl": dict(noise_kind="gaussian"),
    "rkf_rtrl": dict(rho0=1.5, rho1=0.5),
    "rflo": dict(trace_alpha=0.3, feedback="random"),
    "kernl": dict(sigma=1e-4, version="2019-exact"),
    "dni": dict(lr_sg=0.01, fix_interval=3),
    "dni_b": dict(alpha_e=0.5),
    "f_bptt": dict(truncation=7),
    "e_bptt": dict(window=5),
    "eprop": dict(feedback="random"),
}


def roundtrip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("name", sorted(rules.RULES))
def test_config_loads_with_weights_only(name):
    config = rules.RULES[name](**NON_DEFAULT.get(name, {}))
    loaded = roundtrip({"hyper_parameters": {"rule": config, "lr": 1e-3}})["hyper_parameters"]["rule"]
    assert type(loaded) is type(config)
    assert loaded == config
    assert loaded is not config


def test_module_checkpoint_with_its_config_loads_with_weights_only():
    torch.manual_seed(0)
    config = rules.FBPTT(truncation=4)
    rnn = LocalRNN(3, 5, rule=config, dtype=torch.float64)
    loaded = roundtrip({"state_dict": rnn.state_dict(), "rule": config})
    twin = LocalRNN(3, 5, rule=loaded["rule"], dtype=torch.float64)
    twin.load_state_dict(loaded["state_dict"])
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(twin(x)[0], rnn(x)[0], rtol=0, atol=0)


def test_subpackages_reachable_from_the_package():
    code = ("import torch_local_rnn as tlr; "
            "print(tlr.tasks.AddTask.__name__, tlr.rules.RFLO.__name__, tlr.losses.__name__, tlr.ops.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["AddTask", "RFLO", "torch_local_rnn.losses", "torch_local_rnn.ops"]
