"""`python -m torch_local_rnn align`: the gradient-alignment analysis on a tiny network. BPTT against itself
and RTRL (frozen weights over the window) align exactly, RFLO does not; the DNI estimate, its apical
potentials and the true credit are wired as the gradient identities say; the files are written."""
import csv
import json
import math
import os

import pytest
import torch

from torch_local_rnn import LocalRNN, OnlineLearner, ops
from torch_local_rnn.experiments import align as A
from torch_local_rnn.experiments.train import initial_network
from torch_local_rnn.__main__ import main
from torch_local_rnn.tasks import make_task

F64 = torch.float64


def test_align_writes_files_and_exact_rules_align(tmp_path, capsys):
    out = str(tmp_path / "align")
    assert main(["align", "--rules", "bptt,rtrl,rflo,uoro,output_only,dni_b", "--hidden", "8", "--steps", "300",
                 "--points", "4", "--window", "20", "--units", "3", "--no-progress", "--out", out]) == 0
    text = capsys.readouterr().out
    for word in ("bptt", "rtrl", "rflo", "dni_b", "early", "late", "corr(U_t, true credit c_t)"):
        assert word in text
    for name in ("alignment.csv", "alignment.json", "alignment.png", "dni_b_credit.png", "dni_b_credit.csv"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    for name in ("alignment.png", "dni_b_credit.png"):
        with open(os.path.join(out, name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(out, "alignment.json")) as f:
        report = json.load(f)
    assert report["points"] == [0, 100, 200, 300] and report["config"]["train_rule"] == "rtrl"
    rules = report["rules"]
    assert rules["bptt"]["step"] == [0, 100, 200, 300]
    assert all(c == pytest.approx(1.0, abs=1e-12) for c in rules["bptt"]["cosine"])
    assert all(abs(1.0 - c) < 1e-6 for c in rules["rtrl"]["cosine"])
    assert all(r == pytest.approx(1.0, abs=1e-6) for r in rules["rtrl"]["norm_ratio"])
    assert all(c < 0.999 for c in rules["rflo"]["cosine"])
    assert all(math.isfinite(c) and -1.0 <= c <= 1.0 for c in rules["uoro"]["cosine"])
    assert rules["output_only"]["cosine"] == [None] * 4 and rules["output_only"]["norm_ratio"] == [0.0] * 4
    # every rule but DNI(b) on the trained network: the same exact gradient at every point
    assert rules["rflo"]["exact_norm"] == rules["rtrl"]["exact_norm"] != rules["dni_b"]["exact_norm"]
    assert rules["dni_b"]["network"] == "its own dni_b learner"
    assert all(math.isfinite(v) for key in ("cosine", "norm_ratio") for v in rules["dni_b"][key])
    summary = {e["phase"]: e for e in report["summary"]["rflo"]}
    assert set(summary) == {"early", "middle", "late", "all"}
    cos = rules["rflo"]["cosine"]
    assert summary["all"]["cosine_mean"] == pytest.approx(sum(cos) / 4)
    assert summary["early"]["cosine_mean"] == pytest.approx(cos[0])
    credit = report["credit"]["dni_b"]
    assert credit["steps"] == [0, 100, 200, 300] and credit["steps_used"] == 10
    assert all(math.isfinite(v) and -1 <= v <= 1 for v in credit["correlation"] + credit["sign_agreement"])
    assert len(credit["last"]["correlation_per_unit"]) == 8
    with open(os.path.join(out, "dni_b_credit.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 * 1 * 8 and all(math.isfinite(float(r[k])) for r in rows for k in ("apical_U", "credit_c"))
    assert any(float(r["apical_U"]) != 0.0 for r in rows) and any(float(r["credit_c"]) != 0.0 for r in rows)
    with open(os.path.join(out, "alignment.csv")) as f:
        assert len(list(csv.DictReader(f))) == 6 * 4


@pytest.mark.parametrize("task_name,options", [("add", {}), ("mimic", {"n_out": 3, "hidden": 6})])
@pytest.mark.parametrize("B", [1, 2])
def test_estimates_and_credit_are_wired_right(task_name, options, B):
    """(1) An online learner's estimate from zero traces: RTRL's equals BPTT's window gradient (sign, mean over
    streams, the MSE convention); (2) DNI(b): its estimate is sum_t (U_t * alpha phi'(h_t)) ahat_t^T with the
    recorded U_t, so U_t estimates the credit of a_t; (3) the true credit gives BPTT through the same identity."""
    task, n, alpha, T = make_task(task_name, **options), 6, 0.7, 25
    scale = task.output_size if task.loss == "mse" else 1.0
    x, y = task.generate(T, B, seed=5)
    exact_rnn = LocalRNN(task.input_size, n, alpha=alpha, rule="bptt", dtype=F64)
    rtrl = OnlineLearner(*initial_network(task, n, alpha, "tanh", 3), loss=task.loss, batch_size=B, rule="rtrl")
    estimate, apical = A.online_estimate(rtrl, x, y)
    exact, _ = A.window_gradient(exact_rnn, A.learner_weights(rtrl), rtrl.hidden.to(F64), x, y, task.loss, scale)
    assert apical is None and (estimate - exact).norm() <= 1e-12 * exact.norm()

    dni = OnlineLearner(*initial_network(task, n, alpha, "tanh", 3), loss=task.loss, lr=1e-2, batch_size=B,
                        rule="dni_b", generator=torch.Generator().manual_seed(1))
    dni.fit(*task.generate(200, B, seed=7))
    before = {k: v.clone() for k, v in dni.state_dict().items()}
    estimate, apical = A.online_estimate(dni, x, y)
    assert all(torch.equal(before[k], v) for k, v in dni.state_dict().items()), "the learner was changed"
    w, h0 = A.learner_weights(dni), dni.hidden.to(F64)
    out, dphi = ops.leaky_rnn_forward(x.to(F64), h0, w[0], w[1], w[2], alpha, "tanh")
    ahat = torch.cat([torch.cat([h0[None], out[:-1]]), x.to(F64), torch.ones(T, B, 1, dtype=F64)], 2)
    through = lambda credit: torch.einsum("tbi,tbj->ij", credit * alpha * dphi, ahat) / B  # noqa: E731
    assert (estimate - through(apical)).norm() <= 1e-12 * estimate.norm()
    credit = A.true_credit(w, h0, x, y, alpha, "tanh", task.loss, scale)
    exact, _ = A.window_gradient(exact_rnn, w, h0, x, y, task.loss, scale)
    assert (through(credit) - exact).norm() <= 1e-12 * exact.norm()


def test_align_bad_arguments(capsys):
    assert main(["align", "--train-rule", "bptt", "--no-progress"]) == 2
    assert "no online form" in capsys.readouterr().err
    assert main(["align", "--rules", "rflo,nope", "--no-progress"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["align", "--window", "1", "--no-progress"]) == 2
    assert "window" in capsys.readouterr().err
