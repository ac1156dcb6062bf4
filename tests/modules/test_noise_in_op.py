"""LocalRNN's forward for every rule with a sequence form, the stochastic ones drawing their noise inside the op
(docs/algorithms.md §2.5): torch.jit.script(...).save loads and runs in a fresh process (and from C++:
tests/cpp/test_install.py), torch.compile(fullgraph=True) captures it, torch.export exports it; each gives the
eager module's outputs and gradients and advances the noise counter as the eager module does. A checkpoint of the
former Python-drawn noise (rng_state) loads."""
import os
import subprocess
import sys

import pytest
import torch

from helpers import DT, assert_rel, generator, same_package_env
from torch_local_rnn import LocalRNN, ops

SEQUENCE_RULES = [r for r in ops.rule_names() if ops.rule_info(r).sequence_form]
script_ok = pytest.mark.filterwarnings("ignore:`torch.jit.script.*` is deprecated:DeprecationWarning")
T, B, I, N = 6, 3, 2, 4


def make(rule, seed=7):
    return LocalRNN(I, N, num_layers=2, rule=rule, dtype=DT, generator=generator(seed))


def run(model, x):
    """Outputs, gradients of the parameters and the noise offset after two calls (the second draws new noise)."""
    results = []
    for _ in range(2):
        out, h_n = model(x)
        (out.pow(2).sum() + h_n.sum()).backward()
        results += [out.detach(), h_n.detach()]
    results += [p.grad.clone() for p in model.parameters()]
    offsets = [int(b) for name, b in model.named_buffers() if name.endswith("noise_offset")]  # compiled: _orig_mod.
    return results, offsets


def compare(got, want, what):
    (g, g_offset), (w, w_offset) = got, want
    assert g_offset == w_offset, f"{what}: noise_offset {g_offset} != {w_offset}"
    assert len(g) == len(w)
    for a, b in zip(g, w):
        assert_rel(a, b, 1e-12, what)


def test_the_stochastic_rules_are_among_them():
    assert {"uoro", "kf_rtrl", "rkf_rtrl"} <= set(SEQUENCE_RULES)
    assert int(make("uoro").noise_offset) == 0 and make("bptt").noise_seed is None


@script_ok
def test_scripted_modules_save_and_run_in_a_fresh_process(tmp_path):
    x = torch.randn(T, B, I, generator=generator(8), dtype=DT)
    torch.save(x, tmp_path / "x.pt")
    for rule in SEQUENCE_RULES:
        torch.jit.script(make(rule)).save(str(tmp_path / f"{rule}.pt"))
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import sys, torch; sys.path[:0] = [{here!r}, {os.path.dirname(here)!r}]; import torch_local_rnn\n"
            f"from test_noise_in_op import run\n"
            f"x = torch.load({str(tmp_path / 'x.pt')!r})\n"
            f"for rule in {SEQUENCE_RULES!r}:\n"
            f"    torch.save(run(torch.jit.load({str(tmp_path)!r} + '/' + rule + '.pt'), x), "
            f"{str(tmp_path)!r} + '/' + rule + '.out')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=same_package_env(),
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for rule in SEQUENCE_RULES:
        compare(torch.load(tmp_path / f"{rule}.out"), run(make(rule), x), f"{rule} scripted, loaded elsewhere")


@pytest.mark.parametrize("backend", ["eager", "aot_eager", pytest.param("inductor", marks=pytest.mark.slow)])
@pytest.mark.parametrize("rule", SEQUENCE_RULES)
def test_compile_fullgraph(rule, backend):
    torch._dynamo.reset()
    x = torch.randn(T, B, I, generator=generator(9), dtype=DT)
    compiled = torch.compile(make(rule), backend=backend, fullgraph=True)
    compare(run(compiled, x), run(make(rule), x), f"{rule} compiled ({backend})")


@pytest.mark.parametrize("rule", SEQUENCE_RULES)
def test_export(rule):
    x = torch.randn(T, B, I, generator=generator(10), dtype=DT)
    exported = torch.export.export(make(rule), (x,)).module()
    compare(run(exported, x), run(make(rule), x), f"{rule} exported")


@pytest.mark.parametrize("rule", ["uoro", "kf_rtrl"])
def test_old_checkpoint_with_rng_state_loads(rule):
    """A state_dict of the Python-drawn noise: its generator state seeds noise_seed (deterministically)."""
    state = make(rule, seed=1).state_dict()
    del state["noise_seed"], state["noise_offset"]
    state["rng_state"] = torch.Generator().manual_seed(3).get_state()
    first, second = make(rule, seed=2), make(rule, seed=4)
    first.load_state_dict(state)
    second.load_state_dict(state)
    assert torch.equal(first.noise_seed, second.noise_seed) and int(first.noise_offset) == 0
    with pytest.raises(RuntimeError, match=r"rng_state belongs to rule 'uoro'"):
        make("rkf_rtrl").load_state_dict(dict(state, rule_identity=make("uoro").state_dict()["rule_identity"]))
