"""Data-parallel online learning (docs/algorithms.md §2.4): 2 ranks (gloo, this machine) x B streams must equal
one process with 2B streams, float64; the averaged-every-k form keeps the ranks' weights equal; ranks that
disagree on sizes are refused."""
import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import torch_local_rnn as tlr
from helpers import ROOT, same_package_env

D = torch.float64
T, B, N, I, O = 12, 2, 5, 3, 2
WORLD = 2


def _learner(rule, optimizer, batch, process_group=None, sync_every=1, hidden=N):
    g = torch.Generator().manual_seed(7)
    rnn = tlr.LocalRNN(I, hidden, generator=g, dtype=D)
    readout = nn.Linear(hidden, O).to(D)
    with torch.no_grad():
        readout.weight.copy_(torch.randn(O, hidden, generator=g, dtype=D) * 0.3)
        readout.bias.zero_()
    return tlr.OnlineLearner(rnn, readout, loss="cross_entropy", optimizer=optimizer, lr=0.05, batch_size=batch, rule=rule,
                             process_group=process_group, sync_every=sync_every, generator=g)


def _data():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(T, WORLD * B, I, generator=g, dtype=D)
    y = torch.softmax(torch.randn(T, WORLD * B, O, generator=g, dtype=D), -1)
    return x, y


def _worker(rank, init_file, out_dir, cases):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    _run_cases(rank, out_dir, cases)
    dist.barrier()  # every rank done before any exits
    os._exit(0)  # past gloo's teardown, which aborted a rank now and then (examples/online_data_parallel.py)


def _run_cases(rank, out_dir, cases):
    x, y = _data()
    mine = slice(rank * B, (rank + 1) * B)
    for name, (rule, optimizer, sync_every) in cases.items():
        learner = _learner(rule, optimizer, B, dist.group.WORLD, sync_every)
        learner.fit(x[:, mine], y[:, mine], chunk_size=5)
        torch.save({k: v.clone() for k, v in learner.state_dict().items()},
                   os.path.join(out_dir, f"{name}-rank{rank}.pt"))
    for rule in ("rflo", "uoro"):  # rank 0's checkpoint (a collective state_dict) resumes every rank
        first = _learner(rule, "adam", B, dist.group.WORLD)
        first.fit(x[:7, mine], y[:7, mine])
        state = first.state_dict()
        path = os.path.join(out_dir, f"ckpt-{rule}.pt")
        if rank == 0:
            torch.save(state, path)
        dist.barrier()
        resumed = _learner(rule, "adam", B, dist.group.WORLD)
        resumed.load_state_dict(torch.load(path))
        resumed.fit(x[7:, mine], y[7:, mine])
        whole = _learner(rule, "adam", B, dist.group.WORLD)
        whole.fit(x[:, mine], y[:, mine])
        torch.save({"resumed": resumed.state_dict(), "whole": whole.state_dict()},
                   os.path.join(out_dir, f"resume-{rule}-rank{rank}.pt"))
    if rank == 1:  # a rank that builds another network is refused by every rank
        bad = (N + 1,)
    else:
        bad = (N,)
    try:
        _learner("rflo", "sgd", B, dist.group.WORLD, hidden=bad[0])
        message = ""
    except ValueError as error:
        message = str(error)
    with open(os.path.join(out_dir, f"refused-rank{rank}.txt"), "w") as f:
        f.write(message)


CASES = {"rflo-sgd": ("rflo", "sgd", 1), "rflo-adam": ("rflo", "adam", 1), "rtrl-momentum": ("rtrl", "momentum", 1), "dni-adamw": ("dni", "adamw", 1),
         "rflo-adam-every3": ("rflo", "adam", 3)}


@pytest.fixture(scope="module")
def ranks_out():
    with tempfile.TemporaryDirectory() as out_dir:
        init_file = os.path.join(out_dir, "init")
        mp.spawn(_worker, args=(init_file, out_dir, CASES), nprocs=WORLD, join=True)
        states = {name: [torch.load(os.path.join(out_dir, f"{name}-rank{r}.pt")) for r in range(WORLD)]
                  for name in CASES}
        states.update({f"resume-{rule}": [torch.load(os.path.join(out_dir, f"resume-{rule}-rank{r}.pt"))
                                          for r in range(WORLD)] for rule in ("rflo", "uoro")})
        yield states, [open(os.path.join(out_dir, f"refused-rank{r}.txt")).read() for r in range(WORLD)]


@pytest.mark.parametrize("name", ["rflo-sgd", "rflo-adam", "rtrl-momentum"])
def test_two_ranks_equal_one_process_with_all_streams(ranks_out, name):
    states, _ = ranks_out
    rule, optimizer, _ = CASES[name]
    x, y = _data()
    single = _learner(rule, optimizer, WORLD * B)
    single.fit(x, y, chunk_size=5)
    reference = single.state_dict()
    shared = ["rnn.weight_hh_l0", "rnn.weight_ih_l0", "rnn.bias_ih_l0", "readout.weight", "readout.bias", "optimizer_steps"]
    shared += [k for k in ("optimizer_state", "sg_weight", "sg_jacobian") if k in reference]
    for rank in range(WORLD):
        for key in shared:
            torch.testing.assert_close(states[name][rank][key], reference[key], rtol=0, atol=1e-12, msg=key)
        # the state_dict gathers every rank's streams: the single process's, in rank order
        torch.testing.assert_close(states[name][rank]["hidden"], reference["hidden"], rtol=0, atol=1e-12)


def test_learned_auxiliary_weights_stay_equal_on_every_rank(ranks_out):
    # DNI moves its apical weights within the step, before the recurrent gradient reads them: each rank's
    # gradient uses its own streams' move, so the run is one process's only to first order in lr_sg; the
    # weights are still averaged every step and equal on every rank.
    a, b = ranks_out[0]["dni-adamw"]
    for key in ("rnn.weight_hh_l0", "readout.weight", "sg_weight", "optimizer_state"):
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_averaging_every_k_steps_keeps_the_ranks_equal(ranks_out):
    states, _ = ranks_out
    a, b = states["rflo-adam-every3"]
    for key in ("rnn.weight_hh_l0", "readout.weight", "optimizer_state"):
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    single = _learner("rflo", "adam", WORLD * B)
    x, y = _data()
    single.fit(x, y)
    assert not torch.allclose(a["rnn.weight_hh_l0"], single.state_dict()["rnn.weight_hh_l0"], atol=1e-12)  # local SGD


@pytest.mark.parametrize("rule", ["rflo", "uoro"])
def test_rank_zeros_checkpoint_resumes_every_rank(ranks_out, rule):
    states, _ = ranks_out
    for rank in range(WORLD):
        got = states[f"resume-{rule}"][rank]
        for key, value in got["whole"].items():
            torch.testing.assert_close(got["resumed"][key], value, rtol=0, atol=0, msg=key)
    # the gathered checkpoint holds every rank's streams, and the ranks draw different noise
    assert got["whole"]["hidden"].shape[0] == WORLD * B
    if rule == "uoro":
        rngs = got["whole"]["rank_rng_states"]
        assert not torch.equal(rngs[0], rngs[1])


def test_ranks_that_disagree_on_sizes_are_refused(ranks_out):
    _, messages = ranks_out
    for message in messages:
        assert "disagree on ['hidden_size']" in message


def test_process_group_without_distributed_is_refused():
    with pytest.raises(ValueError, match="process_group needs an initialised torch.distributed"):
        _learner("rflo", "sgd", B, process_group=object())


@pytest.mark.slow
def test_torchrun_example_equals_one_process(tmp_path):
    """examples/online_data_parallel.py under torchrun (2 ranks x 2 streams), stopped and resumed from rank 0's
    checkpoint, equals the same script in one process with 4 streams."""
    import subprocess
    import sys
    script = os.path.join(ROOT, "examples", "online_data_parallel.py")
    env = same_package_env()
    common = ["--chunk", "40", "--dtype", "float64", "--optimizer", "adam"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", script]
    subprocess.run(torchrun + ["--batch", "2", "--steps", "60", "--out", str(tmp_path / "half.pt")] + common,
                   check=True, env=env, capture_output=True)
    subprocess.run(torchrun + ["--batch", "2", "--steps", "60", "--resume", str(tmp_path / "half.pt"), "--out",
                               str(tmp_path / "ranks.pt")] + common, check=True, env=env, capture_output=True)
    subprocess.run([sys.executable, script, "--batch", "4", "--steps", "120", "--out", str(tmp_path / "one.pt")]
                   + common, check=True, env=env, capture_output=True)
    ranks, one = torch.load(tmp_path / "ranks.pt"), torch.load(tmp_path / "one.pt")
    for key in ("rnn.weight_hh_l0", "readout.weight", "optimizer_state", "hidden", "trace"):
        torch.testing.assert_close(ranks[key], one[key], rtol=0, atol=1e-12, msg=key)
    assert int(ranks["steps_done"]) == 120
