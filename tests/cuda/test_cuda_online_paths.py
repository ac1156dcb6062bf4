"""The online kernels beyond one block (docs/design.md §3.7), CUDA against the CPU: the grid kernel
(TLR_CUDA_ONLINE=grid) for every online rule config at a size where many blocks have work, at a small one and at
one its forward takes by tiles, float64 and float32, and the same bits as the one-block kernel; the tiled products
of the grid policy at sizes with several ragged tiles; the `auto` switch above its threshold; online_learn_members
/ OnlineEnsemble in one launch, each member bitwise its solo CUDA run and the CPU stack to the tolerance, also
under every member launch TLR_CUDA_MEMBERS fixes (a warp a member among them); the switches' errors. Skipped
without a GPU."""
import pytest
import torch
from torch import nn

import torch_local_rnn
from cuda_configs import CUDA, DTYPES, ONLINE, TOLERANCE, build_learner, compare_modules, stream
from helpers import assert_rel, assert_same_learner
from torch_local_rnn import LocalRNN, OnlineLearner, rules

pytestmark = pytest.mark.skipif(not torch.cuda.is_available() or not torch_local_rnn.has_cuda_kernels(),
                                reason="needs a GPU and a CUDA build of torch_local_rnn")

CONFIGS = ONLINE + [("rflo", rules.RFLO()), ("eprop", rules.EProp())]
IDS = [name for name, _ in CONFIGS]
# (batch, hidden, input): one small network (the grid's first block has all the work), one whose widest
# phases span dozens of blocks (B n m = 12,480 elements; RTRL's product 48 x 2,496), and one whose forward the
# grid takes by a full tile of streams (kernels/tiled_preactivations.cuh, from n = 32 on, so `wide` too: 40 units
# and 17 streams leave ragged tiles both ways, 19 inputs two blocks of 8 and a tail in dot_rotated's order)
SIZES = {"small": (1, 6, 2), "wide": (5, 48, 3), "tiles": (17, 40, 19)}
STEPS, CHUNK = 24, 10  # three calls per fit: the carried state crosses calls
LEARNER_LR = 0.05  # cuda_configs.build_learner's


def records(config):
    return config.name in ("dni", "dni_b")  # the DNIs' per-step signals: one more thing the kernel writes


def fit_on(path, config, dtype, batch, n, I, monkeypatch, x, y):
    """A CUDA learner fitted with TLR_CUDA_ONLINE = path; returns (learner, losses, signals or None)."""
    monkeypatch.setenv("TLR_CUDA_ONLINE", path)
    learner = build_learner(config, dtype, batch, I=I, n=n).to(CUDA)
    out = learner.fit(x.to(CUDA), y.to(CUDA), chunk_size=CHUNK, record=records(config))
    monkeypatch.delenv("TLR_CUDA_ONLINE")
    return (learner, *out) if records(config) else (learner, out, None)


def cpu_fit(config, dtype, batch, n, I, x, y):
    """The CPU twin: (learner, losses, signals or None, the parameters before)."""
    learner = build_learner(config, dtype, batch, I=I, n=n)
    start = {k: v.detach().clone() for k, v in learner.named_parameters()}
    out = learner.fit(x, y, chunk_size=CHUNK, record=records(config))
    return ((learner, *out) if records(config) else (learner, out, None)) + (start,)


def assert_same_signals(got, want, tol, context):
    """The DNIs' records: to tol, or (tol None) bitwise."""
    if want is None:
        assert got is None, context
        return
    for key in want:
        if tol is None:
            assert torch.equal(got[key], want[key]), f"{context} record {key}"
        else:
            assert_rel(got[key].cpu(), want[key].cpu(), tol, f"{context} record {key}")


@DTYPES
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name,config", CONFIGS, ids=IDS)
def test_grid_kernel_equals_cpu(name, config, size, dtype, monkeypatch):
    batch, n, I = SIZES[size]
    x, y = stream(STEPS, batch, I=I, dtype=dtype)
    gpu, got, got_signals = fit_on("grid", config, dtype, batch, n, I, monkeypatch, x, y)
    cpu, want, signals, start = cpu_fit(config, dtype, batch, n, I, x, y)
    tol = TOLERANCE[dtype]
    assert_rel(got.cpu(), want, tol, f"{name} {size} grid losses")
    assert_same_signals(got_signals, signals, tol, f"{name} {size} grid")
    compare_modules(gpu, cpu, config, start, tol, f"{name} {size} grid {dtype}")


@DTYPES
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name,config", CONFIGS, ids=IDS)
def test_grid_kernel_gives_the_block_kernels_bits(name, config, size, dtype, monkeypatch):
    """Every element, loop_owned entry, product entry (tiled or not) and sums row is one thread's or one warp's
    sum in a fixed order under both policies (kernels/online_step.cuh), so the two kernels agree bitwise."""
    batch, n, I = SIZES[size]
    x, y = stream(STEPS, batch, I=I, dtype=dtype)
    grid, got, got_signals = fit_on("grid", config, dtype, batch, n, I, monkeypatch, x, y)
    block, want, signals = fit_on("block", config, dtype, batch, n, I, monkeypatch, x, y)
    assert torch.equal(got, want), f"{name} {size} losses: grid and block kernels differ"
    assert_same_signals(got_signals, signals, None, f"{name} {size} grid vs block")
    assert_same_learner(grid, block, f"{name} {size} grid vs block")


@DTYPES
@pytest.mark.parametrize("path", ["block", "grid"])
@pytest.mark.parametrize("name,config", CONFIGS, ids=IDS)
def test_the_build_without_options_gives_the_full_builds_bits(name, config, path, dtype, monkeypatch):
    """A call without options runs the kernels' build without the options' paths (BlockExec32Plain,
    GridExecPlain: docs/design.md §3.7); a learning-rate schedule equal to the learner's lr at every step sends
    the same call to the full build, whose arithmetic is the same, so the two agree bitwise."""
    batch, n, I = SIZES["wide"]
    x, y = stream(STEPS, batch, I=I, dtype=dtype)
    monkeypatch.setenv("TLR_CUDA_ONLINE", path)
    plain, full = (build_learner(config, dtype, batch, I=I, n=n).to(CUDA) for _ in range(2))
    got = plain.fit(x.to(CUDA), y.to(CUDA), chunk_size=CHUNK)
    want = full.fit(x.to(CUDA), y.to(CUDA), chunk_size=CHUNK,
                    lr_schedule=torch.full((STEPS,), LEARNER_LR, dtype=dtype, device=CUDA))
    assert torch.equal(got, want), f"{name} {path} losses: the builds with and without the options differ"
    assert_same_learner(plain, full, f"{name} {path} plain vs full build")


# The grid policy's tiled product (kernels/tiled_matmul.cuh) runs where C is at least 32 x 32: RTRL's W_hh M
# (80 x 6,720: a full and a ragged row of tiles), KF-RTRL's and R-KF-RTRL's J B (80 x 80, 80 x 84: ragged both
# ways), and at B = 33 streams the GEMM paths' products over the streams (80 x 33, 33 x 80; depth 33 leaves a
# partial slab) of KeRNL, DNI(b) and UORO.
TILED = [(name, cfg, batch) for name, cfg in CONFIGS for want, batch in
         (("rtrl", 2), ("kf_rtrl", 3), ("rkf_rtrl", 3), ("kernl", 33), ("dni_b", 33), ("dni-switches", 33),
          ("uoro", 33)) if name == want]


@DTYPES
@pytest.mark.parametrize("name,config,batch", TILED, ids=[t[0] for t in TILED])
def test_grid_tiled_products_equal_cpu_and_block(name, config, batch, dtype, monkeypatch):
    n, I, steps = 80, 3, 8
    x, y = stream(steps, batch, I=I, dtype=dtype)
    grid, got, _ = fit_on("grid", config, dtype, batch, n, I, monkeypatch, x, y)
    block, want_block, _ = fit_on("block", config, dtype, batch, n, I, monkeypatch, x, y)
    cpu, want, _, start = cpu_fit(config, dtype, batch, n, I, x, y)
    tol = TOLERANCE[dtype]
    assert_rel(got.cpu(), want, tol, f"{name} tiled grid losses")
    compare_modules(grid, cpu, config, start, tol, f"{name} tiled grid {dtype}")
    assert torch.equal(got, want_block), f"{name} tiled: grid and block kernels differ"
    assert_same_learner(grid, block, f"{name} tiled grid vs block")


def test_auto_takes_the_grid_above_its_threshold(monkeypatch):
    """RFLO at n = 128, B = 16 (B n m = 270,336 >= 2^18, kernels/online_rule_grid.cuh): `auto` (unset) runs the
    grid kernel, the same bits as TLR_CUDA_ONLINE=grid, and equals the CPU."""
    config, dtype, batch, n, I = rules.RFLO(), torch.float32, 16, 128, 3
    x, y = stream(12, batch, I=I, dtype=dtype)
    monkeypatch.delenv("TLR_CUDA_ONLINE", raising=False)
    auto = build_learner(config, dtype, batch, I=I, n=n).to(CUDA)
    got = auto.fit(x.to(CUDA), y.to(CUDA), chunk_size=CHUNK)
    grid, want, _ = fit_on("grid", config, dtype, batch, n, I, monkeypatch, x, y)
    assert torch.equal(got, want)
    assert_same_learner(auto, grid, "auto vs grid")
    cpu, want_cpu, _, start = cpu_fit(config, dtype, batch, n, I, x, y)
    assert_rel(got.cpu(), want_cpu, TOLERANCE[dtype], "auto losses")
    compare_modules(auto, cpu, config, start, TOLERANCE[dtype], "auto")


# ---------------------------------------------------------------------------------------------- members

MEMBER_RULES = ["output_only", "rtrl", "f_bptt", "e_bptt", "rflo", "eprop", "uoro", "kf_rtrl", "rkf_rtrl", "kernl",
                "dni", "dni_b"]
E = 3


def member_rule(name, e):
    """Member e's config: the rule's float options differ between members where the rule has any."""
    if name == "rflo":
        return rules.RFLO(trace_alpha=(0.3, 0.5, 0.8)[e % 3])
    if name == "f_bptt":
        return rules.FBPTT(truncation=3)
    if name == "e_bptt":
        return rules.EBPTT(window=3)
    if name == "kernl":
        return rules.KeRNL(sigma=(1e-3, 0.01, 0.05)[e % 3], lr=(0.1, 0.3, 0.5)[e % 3], reset_interval=4)
    if name in ("dni", "dni_b"):
        cls = rules.DNI if name == "dni" else rules.DNIb
        return cls(lr_sg=(0.01, 0.05, 0.1)[e % 3], lr_j=0.05, fix_interval=2)
    return rules.resolve(name)


def member_alpha(rule, e):
    """(1.0, 0.7, 0.5)[e % 3] where the rule allows it (rule.check), else 1.0."""
    alpha = (1.0, 0.7, 0.5)[e % 3]
    try:
        rule.check(alpha, "online", "test")
        return alpha
    except ValueError:
        return 1.0


def member(name, e, dtype, device, batch=2, n=5, I=3, O=2):
    """Member e, built from its own seeds (the same learner each time it is built), on `device`."""
    rule = member_rule(name, e)
    torch.manual_seed(10 + e)  # the readout's init
    rnn = LocalRNN(I, n, alpha=member_alpha(rule, e), generator=torch.Generator().manual_seed(20 + e), dtype=dtype)
    readout = nn.Linear(n, O, dtype=dtype)
    learner = OnlineLearner(rnn, readout, rule=rule, loss="mse", lr=(0.05, 0.02, 0.1)[e % 3], batch_size=batch,
                            generator=torch.Generator().manual_seed(30 + e), l2=(0.0, 1e-3, 0.0)[e % 3])
    return learner.to(device)


def member_data(dtype, batch=2, I=3, O=2, steps=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(steps, batch, I, generator=g, dtype=torch.float64).to(dtype),
            torch.randn(steps, batch, O, generator=g, dtype=torch.float64).to(dtype))


def assert_close_learner(got, want, tol, context):
    a, b = got.state_dict(), want.state_dict()
    assert a.keys() == b.keys(), context
    for key in a:
        if a[key].is_floating_point():
            assert_rel(a[key].cpu(), b[key].cpu(), tol, f"{context}: {key}")
        else:
            assert torch.equal(a[key].cpu(), b[key].cpu()), f"{context}: {key}"


@DTYPES
@pytest.mark.parametrize("name", MEMBER_RULES)
def test_members_in_one_launch_equal_their_solo_runs(name, dtype, monkeypatch):
    """online_learn_members on CUDA launches every member at once (cuda/online_members_cuda.h; one launch per kind:
    the members with l2 > 0 run the build with the options' paths, the others the build without): each member is
    bitwise its learner run alone on CUDA, and the stack equals the CPU stack to the CUDA tolerance."""
    monkeypatch.delenv("TLR_CUDA_ONLINE", raising=False)
    x, y = member_data(dtype)
    ens = OnlineLearner.stack([member(name, e, dtype, CUDA) for e in range(E)])
    losses = ens.fit(x.to(CUDA), y.to(CUDA), chunk_size=5)
    assert losses.shape == (x.shape[0], E, x.shape[1])
    cpu_ens = OnlineLearner.stack([member(name, e, dtype, "cpu") for e in range(E)])
    cpu_losses = cpu_ens.fit(x, y, chunk_size=5)
    assert_rel(losses, cpu_losses, TOLERANCE[dtype], f"{name} stack losses vs CPU")
    for e, (got, cpu_member) in enumerate(zip(ens.unstack(), cpu_ens.unstack())):
        alone = member(name, e, dtype, CUDA)
        want = alone.fit(x.to(CUDA), y.to(CUDA), chunk_size=5)
        assert torch.equal(losses[:, e], want.cpu()), f"{name} member {e} losses"
        assert_same_learner(got, alone, f"{name} member {e}")
        assert_close_learner(got, cpu_member, TOLERANCE[dtype] * 10, f"{name} member {e} vs CPU")
    assert not torch.equal(ens.weight_out[0], ens.weight_out[1])


def sms_times(k):
    return lambda: k * torch.cuda.get_device_properties(0).multi_processor_count if torch.cuda.is_available() else k


@DTYPES
@pytest.mark.parametrize("count", [lambda: 300, sms_times(8)], ids=["300", "8_per_sm"])
def test_many_tiny_members_one_launch(dtype, count, monkeypatch):
    """RFLO members at the papers' size (n = 32, B = 1): 300 are more blocks than fit at 256 threads each, so
    the member kernel runs narrower blocks; 8 per SM (1,056 on an H200) fit only its register-capped build,
    8 blocks of 64 threads an SM (kernels/online_members.cuh). Neither may change a bit."""
    monkeypatch.delenv("TLR_CUDA_ONLINE", raising=False)
    members, n, I = count(), 32, 2
    x, y = member_data(dtype, batch=1, I=I, steps=20, seed=4)
    ens = OnlineLearner.stack([member("rflo", e, dtype, CUDA, batch=1, n=n, I=I) for e in range(members)])
    losses = ens.fit(x.to(CUDA), y.to(CUDA), chunk_size=7)
    assert torch.isfinite(losses).all()
    stacked = ens.unstack()
    for e in (0, 1, members // 2, members - 1):
        alone = member("rflo", e, dtype, CUDA, batch=1, n=n, I=I)
        want = alone.fit(x.to(CUDA), y.to(CUDA), chunk_size=7)
        assert torch.equal(losses[:, e], want.cpu()), f"member {e} losses"
        assert_same_learner(stacked[e], alone, f"member {e}")


# TLR_CUDA_MEMBERS: a warp a member (new team size) for every rule, the other launches for a few
MEMBER_LAUNCHES = ([(name, "32") for name in MEMBER_RULES] +
                   [(name, launch) for name in ("rflo", "rtrl", "dni_b") for launch in ("64", "256", "capped64",
                                                                                        "capped128")])


@pytest.mark.parametrize("name, launch", MEMBER_LAUNCHES, ids=[f"{n}-{l}" for n, l in MEMBER_LAUNCHES])
def test_members_under_every_launch_equal_their_solo_runs(name, launch, monkeypatch):
    """TLR_CUDA_MEMBERS fixes the member blocks' threads and build (32: a warp a member): each member is still
    bitwise its solo run, which is one block of 256 threads (a member's arithmetic does not depend on its team)."""
    monkeypatch.delenv("TLR_CUDA_ONLINE", raising=False)
    x, y = member_data(torch.float32)
    monkeypatch.setenv("TLR_CUDA_MEMBERS", launch)
    ens = OnlineLearner.stack([member(name, e, torch.float32, CUDA) for e in range(E)])
    losses = ens.fit(x.to(CUDA), y.to(CUDA), chunk_size=5)
    monkeypatch.delenv("TLR_CUDA_MEMBERS")
    for e, got in enumerate(ens.unstack()):
        alone = member(name, e, torch.float32, CUDA)
        want = alone.fit(x.to(CUDA), y.to(CUDA), chunk_size=5)
        assert torch.equal(losses[:, e], want.cpu()), f"{name} member {e} losses under {launch}"
        assert_same_learner(got, alone, f"{name} member {e} under {launch}")


def test_a_bad_members_value_is_an_error_naming_it(monkeypatch):
    monkeypatch.setenv("TLR_CUDA_MEMBERS", "96")
    ens = OnlineLearner.stack([member("rflo", e, torch.float32, CUDA) for e in range(2)])
    x, y = member_data(torch.float32)
    with pytest.raises(RuntimeError, match=r"TLR_CUDA_MEMBERS to be 'auto', '32', .* but got '96'"):
        ens.fit(x.to(CUDA), y.to(CUDA), chunk_size=5)


def test_members_on_the_grid_path_equal_their_solo_runs(monkeypatch):
    """TLR_CUDA_ONLINE=grid: each member runs the grid kernel by itself (not deferred), the same bits as alone."""
    monkeypatch.setenv("TLR_CUDA_ONLINE", "grid")
    x, y = member_data(torch.float64)
    ens = OnlineLearner.stack([member("kernl", e, torch.float64, CUDA) for e in range(E)])
    losses = ens.fit(x.to(CUDA), y.to(CUDA), chunk_size=5)
    for e, got in enumerate(ens.unstack()):
        alone = member("kernl", e, torch.float64, CUDA)
        assert torch.equal(losses[:, e], alone.fit(x.to(CUDA), y.to(CUDA), chunk_size=5).cpu()), f"member {e}"
        assert_same_learner(got, alone, f"member {e}")


# ---------------------------------------------------------------------------------------------- the switch

def test_a_bad_switch_value_is_an_error_naming_it(monkeypatch):
    monkeypatch.setenv("TLR_CUDA_ONLINE", "sideways")
    learner = build_learner(rules.RFLO(), torch.float64, 2).to(CUDA)
    x, y = stream(4, 2)
    message = r"TLR_CUDA_ONLINE to be 'auto', 'block' or 'grid' \(unset: 'auto'\), but got 'sideways'"
    with pytest.raises(RuntimeError, match=message):
        learner.fit(x.to(CUDA), y.to(CUDA))
    ens = OnlineLearner.stack([member("rtrl", e, torch.float64, CUDA) for e in range(E)])
    before = ens.weight_hh.clone()
    xm, ym = member_data(torch.float64)
    with pytest.raises(RuntimeError, match=message):
        ens.fit(xm.to(CUDA), ym.to(CUDA))
    assert torch.equal(ens.weight_hh, before)  # no member ran


def test_a_call_past_32_bit_indices_is_refused_on_the_block_path(monkeypatch):
    """The online one-block kernels index in 32 bits (BlockExec32, docs/design.md §3.7). RTRL at n = 512, B = 16
    keeps B influence matrices of n x n m = 2.16e9 entries: forced onto the block path, the call is an error
    naming the sizes and the extent (common/online_extent.h), before any step: the learner is unchanged."""
    monkeypatch.setenv("TLR_CUDA_ONLINE", "block")
    learner = build_learner(rules.RTRL(), torch.float32, 16, I=2, n=512).to(CUDA)
    before = {k: v.detach().clone() for k, v in learner.named_parameters()}
    x, y = stream(1, 16, I=2, dtype=torch.float32)
    message = (r"the one-block kernel indexes in 32 bits, at most 2146435072 elements, but batch = 16, "
               r"hidden_size = 512, input_size = 2, output_size = 2 reach 2160066560")
    with pytest.raises(RuntimeError, match=message):
        learner.fit(x.to(CUDA), y.to(CUDA))
    for k, v in learner.named_parameters():
        assert torch.equal(v, before[k]), k
    del learner
    torch.cuda.empty_cache()
