"""The 2019 paper's local-rule model (Marschall, Cho & Savin 2019, "Using local plasticity rules to train
recurrent neural networks"; docs/algorithms.md §4, §6.1): DNI(b), a synthetic-gradient network whose neurons
carry the predicted credit in an apical compartment U_t, on the Add task with t1 = 3, t2 = 5 (the 2019
code's Coin(4, 6)) over the leak alpha in {1, 0.5, 0.3} and the time steps per sample tau in {1, 2, 4}.

Every run: the preset p1-2019 (the Feb-2019 "alpha03_tau4" configuration, docs/algorithms.md §6.1, §6.5) at
each alpha and tau: n = 32, tanh, the papers' online protocol (one stream, plain SGD after every step),
network lr 5e-4 with L2 1e-4, every run and test stream from a random state; DNI(b) as rules.DNIb.paper(2019)
(apical / Jacobian rates lr_sg = lr_j = 1e-2, learned W_a, tanh-squashed bootstrap, random feedback W_FB, the
2019 update order); next to it, in the same cells and from the same initial weights and data, RFLO (trace
rate alpha_R = alpha, random feedback as in the 2019 comparison runs) and output_only (only the readout
learns). 200,000 training steps, test = mean per-step loss over a fresh 5,000-step stream, learning off;
5 seeds.

Each cell (alpha, tau) is one compare() with its own folder OUT/alpha<a>-tau<t>, so the same command with
the same --out loads the finished runs. Then:

  OUT/p1.csv          alpha, tau, rule, seeds, final_mean, final_sd, best_mean, seconds, diverged
  OUT/p1.md           per rule a 3x3 table (rows alpha, columns tau) of final test loss mean ± sd
  OUT/p1.png          3x3 panels of the mean learning curves (test: line and ± sd band; training: thin),
                      with the Add task's reference levels 0.66 / 0.52 / 0.45 as computed by the task
  OUT/p1_apical.png   one recorded run in the cell alpha 0.3, tau 4 (seed --seed): the DNI(b) learner
                      trained as in its compare run, and at --record-points moments of training a copy of it
                      (network weights frozen, lr 0; the apical weights keep learning) runs
                      OnlineLearner.fit(..., record=True) over the first --record-window steps of the test
                      stream: its apical potential U_t against the true credit c_t = dL_{>=t}/da_t of the
                      network (torch_local_rnn.experiments.align.true_credit) for a few units, and their
                      correlation over training; numbers in OUT/apical/record.json
  OUT/timing.json     wall time of each cell and in all

    python examples/p1_dni_b.py --jobs 2
    python examples/p1_dni_b.py --quick --out /tmp/p1     # seconds: n=8, 300 steps, 2 seeds

The 2019 job's early stop at test loss 0.52 is --stop-below 0.52 (off by default here, so that every cell's
curves run to the end); the showcase cell alone, with it: python -m torch_local_rnn compare --preset p1-2019.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _grid, next to this script

import torch  # noqa: E402

from _grid import Cell, apply_defaults, fmt_mean_sd, grid_main, split_list  # noqa: E402
from torch_local_rnn.experiments import align  # noqa: E402
from torch_local_rnn.experiments.cli import add_backend_and_log_arguments  # noqa: E402
from torch_local_rnn.experiments.config import CompareConfig  # noqa: E402
from torch_local_rnn.experiments.presets import preset_config  # noqa: E402
from torch_local_rnn.experiments.report import plot_credit  # noqa: E402
from torch_local_rnn.experiments.train import evaluation_start, online_learner, test_loss  # noqa: E402

ALPHAS = (1.0, 0.5, 0.3)
TAUS = (1, 2, 4)
RULES = ("dni_b", "rflo", "output_only")
QUICK = dict(hidden=8, steps=300, seeds=2, test_steps=500, record_window=40, record_points=3)
FULL = dict(hidden=32, steps=200_000, seeds=5, test_steps=5_000, record_window=100, record_points=11)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--alphas", default=",".join(f"{v:g}" for v in ALPHAS), help="leaks alpha (default 1,0.5,0.3)")
    a("--taus", default=",".join(str(v) for v in TAUS), help="time steps per sample tau (default 1,2,4)")
    a("--rules", default=",".join(RULES), help="comma-separated online rules (default dni_b,rflo,output_only)")
    a("--steps", type=int, default=None, help="training steps per run (default 200,000; quick 300)")
    a("--seeds", type=int, default=None, help="seeds per cell (default 5; quick 2)")
    a("--seed", type=int, default=0, help="first seed (default 0); the recorded run uses it")
    a("--hidden", type=int, default=None, help="hidden units (default 32; quick 8)")
    a("--lr", type=float, default=5e-4, help="network SGD learning rate (default 5e-4)")
    a("--lr-sg", type=float, default=1e-2, help="DNI(b): lr of the apical weights and of W_a (default 1e-2)")
    a("--l2", type=float, default=1e-4, help="L2 on the weight matrices (default 1e-4, the 2019 showcase's)")
    a("--initial-state", choices=("random", "zeros"), default="random",
      help="where training and every test stream start (default random, as the 2019 code)")
    a("--stop-below", type=float, default=None,
      help="stop a run at its first test evaluation below this loss (the 2019 showcase: 0.52; default never)")
    a("--rflo-feedback", choices=("random", "symmetric"), default="random",
      help="RFLO's feedback (default random, as in the 2019 comparison)")
    a("--test-steps", type=int, default=None, help="steps of the fresh test stream (default 5,000; quick 500)")
    a("--eval-every", type=int, default=None, help="steps between test evaluations (default steps/25)")
    a("--checkpoint-every", type=int, default=None, help="save unfinished runs' state every this many steps")
    a("--record-alpha", type=float, default=0.3, help="cell of the recorded run: alpha (default 0.3)")
    a("--record-tau", type=int, default=4, help="cell of the recorded run: tau (default 4)")
    a("--record-window", type=int, default=None, help="steps of the recorded test stretch (default 100; quick 40)")
    a("--record-points", type=int, default=None, help="moments of training recorded (default 11; quick 3)")
    a("--units", type=int, default=4, help="units shown in p1_apical.png (default 4)")
    a("--jobs", type=int, default=None, help="processes (default: min(CPUs, runs to do); quick 1)")
    add_backend_and_log_arguments(p)  # --backend, --address, --tensorboard: as compare's
    a("--out", default=os.path.join("results", "p1_dni_b"), help="output folder (default results/p1_dni_b)")
    a("--quick", action="store_true", help="a smoke run in seconds: n=8, 300 steps, 2 seeds, test 500 steps")
    a("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    apply_defaults(args, QUICK, FULL)
    try:
        args.alphas = [float(v) for v in split_list(args.alphas)]
        args.taus = [int(v) for v in split_list(args.taus)]
    except ValueError:
        p.error("--alphas / --taus: expected comma-separated numbers")
    if not args.alphas or not args.taus:
        p.error("--alphas / --taus: expected at least one value each")
    args.rules = split_list(args.rules)
    if args.record_window < 2 or args.record_points < 1:
        p.error("--record-window must be >= 2 and --record-points >= 1")
    return args


def cell_name(alpha: float, tau: int) -> str:
    return f"alpha{alpha:g}-tau{tau}"


def make_cells(args):
    """One compare config per (alpha, tau): the preset p1-2019 (the 2019 protocol: L2, random start states, the
    papers' DNI(b) and RFLO settings) at that alpha and tau, with the flags' changes."""
    cells = []
    for alpha in args.alphas:
        for tau in args.taus:
            options = {"dni_b": {"lr_sg": args.lr_sg, "lr_j": args.lr_sg},
                       "rflo": {"trace_alpha": alpha, "feedback": args.rflo_feedback}}
            config = preset_config("p1-2019", rules=args.rules, task_options={"tau": tau}, rule_options=options,
                                   hidden=args.hidden, alpha=alpha, steps=args.steps, lr=args.lr, l2=args.l2,
                                   initial_state=args.initial_state, test_state=args.initial_state,
                                   stop_below=args.stop_below, seed=args.seed, seeds=args.seeds,
                                   test_steps=args.test_steps, eval_every=args.eval_every, threads=1, jobs=args.jobs,
                                   checkpoint_every=args.checkpoint_every)
            cells.append(Cell(cell_name(alpha, tau), config, {"alpha": alpha, "tau": tau}))
    return cells


# ---------------------------------------------------------------------------- the recorded run
def recorded_run(config: CompareConfig, seed: int, window: int, points: int, folder: str) -> dict:
    """Trains (dni_b, seed) of the cell as compare does; at ``points`` moments (step 0 .. steps) a frozen
    copy records U_t over the first ``window`` test steps, compared with the true credit c_t. Cached in
    folder/record.json (reloaded when made with the same configuration)."""
    path = os.path.join(folder, "record.json")
    identity = json.loads(json.dumps({**config.identity("dni_b", seed), "window": window, "points": points}))
    if os.path.exists(path):
        with open(path) as f:
            stored = json.load(f)
        if stored.get("identity") == identity:
            return stored
    started = time.perf_counter()
    task = config.task_instance()
    learner = online_learner(config, "dni_b", seed)
    x_test, y_test = task.generate(config.test_steps, config.test_streams, seed=config.test_seed(seed))
    xw, yw = x_test[:window], y_test[:window]
    steps = config.steps
    point_steps = [steps] if points == 1 else [round(k * steps / (points - 1)) for k in range(points)]
    stream = align.BufferedStream(task.stream(steps, config.batch, chunk_size=min(steps, 10_000),
                                              seed=config.data_seed(seed)))
    half = max(1, -(-window // 2))  # c_t of the first half sees at least window/2 future steps
    done, correlations, signs = 0, [], []
    for step in point_steps:
        if step > done:
            learner.fit(*stream.take(step - done), chunk_size=10_000)
            done = step
        probe = online_learner(config, "dni_b", seed, lr=0.0)  # lr 0: the network's weights stay as they are
        probe.load_state_dict(learner.state_dict())
        h0, weights = probe.hidden.detach().clone(), align.learner_weights(probe)
        _, signals = probe.fit(xw, yw, record=True)
        apical = signals["apical"].to(torch.float64)  # (window, 1, n)
        credit = align.true_credit(weights, h0, xw, yw, config.alpha, config.nonlinearity, task.loss)
        correlations.append(align.correlation(apical[:half], credit[:half]))
        signs.append((torch.sign(apical[:half]) == torch.sign(credit[:half])).to(torch.float64).mean().item())
    final = test_loss(learner.rnn, learner.readout, x_test, y_test, task.loss, evaluation_start(config, seed))
    record = {"identity": identity, "seed": seed, "window": window, "steps_used": half, "points": point_steps,
              "correlation": correlations, "sign_agreement": signs, "final_test_loss": final,
              "correlation_per_unit": [align.correlation(apical[:half, :, u], credit[:half, :, u])
                                       for u in range(apical.shape[2])],
              "apical": apical[:, 0].tolist(), "credit": credit[:, 0].tolist(),
              "seconds": time.perf_counter() - started}
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as f:
        json.dump(record, f)
    return record


def plot_apical(record: dict, units: int, path: str) -> None:
    """align's U-vs-credit figure (report.plot_credit) for the recorded run."""
    apical = torch.tensor(record["apical"], dtype=torch.float64)[:, None, :]
    credit = torch.tensor(record["credit"], dtype=torch.float64)[:, None, :]
    report = {"credit": {"dni_b": {"steps": record["points"], "correlation": record["correlation"],
                                   "steps_used": record["steps_used"],
                                   "last": {"correlation_per_unit": record["correlation_per_unit"]}}}}
    last = {"step": record["points"][-1], "apical": apical, "credit": credit}
    plot_credit(report, "dni_b", last, min(units, apical.shape[2]), path)


# ---------------------------------------------------------------------------- outputs
def markdown(args, cells, reports, record, record_cell):
    first = cells[0].config
    levels = reports[cells[0].name]["reference_levels"]
    lines = ["# 2019 local-rule model: DNI(b) on Add(t1=3, t2=5), final test loss mean ± sd over seeds", "",
             f"n={first.hidden}, tanh; online (one stream, SGD lr {first.lr:g} with L2 {first.l2:g} after every step, "
             f"from a {first.initial_state} state), {first.steps:,} steps; seeds {first.seed_list[0]}.."
             f"{first.seed_list[-1]}; test: mean per-step loss over a fresh {first.test_steps:,}-step stream "
             f"({first.test_state} initial state), learning off.",
             f"DNI(b): lr_sg = lr_j = {args.lr_sg:g}, learned W_a, tanh bootstrap, random feedback; RFLO: trace rate "
             f"= alpha, {args.rflo_feedback} feedback.",
             "Reference levels (nats per step): " + ", ".join(f"{k} {v:.4f}" for k, v in levels.items()), ""]
    for rule in args.rules:
        lines += [f"## {rule}", "", "| alpha \\ tau | " + " | ".join(f"tau={t}" for t in args.taus) + " |",
                  "|---|" + "---|" * len(args.taus)]
        for alpha in args.alphas:
            row = []
            for tau in args.taus:
                s = reports[cell_name(alpha, tau)]["summary"].get(rule)
                row.append("-" if s is None else fmt_mean_sd(s["final_mean"], s["final_sd"]))
            lines.append(f"| alpha={alpha:g} | " + " | ".join(row) + " |")
        lines.append("")
    if record is not None:
        corr = [c for c in record["correlation"] if math.isfinite(c)]
        lines += [f"## Recorded run (dni_b, {record_cell}, seed {record['seed']})", "",
                  f"corr(apical U_t, true credit c_t) over the first {record['steps_used']} of {record['window']} "
                  f"test steps: at step 0 {record['correlation'][0]:.3f}, at the end {record['correlation'][-1]:.3f}"
                  f" (mean over {len(corr)} points {sum(corr) / max(1, len(corr)):.3f}); sign agreement at the end "
                  f"{record['sign_agreement'][-1]:.3f}. See p1_apical.png.", ""]
    return "\n".join(lines)


def plot_curves(args, cells, reports, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = len(args.alphas), len(args.taus)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols + 1.8, 3.2 * rows + 0.6), sharex=True, sharey=True,
                             squeeze=False)
    levels = reports[cells[0].name]["reference_levels"]
    values = []
    for i, alpha in enumerate(args.alphas):
        for j, tau in enumerate(args.taus):
            ax = axes[i][j]
            report = reports[cell_name(alpha, tau)]
            for k, rule in enumerate(args.rules):
                s = report["summary"].get(rule)
                if s is None:
                    continue
                color = f"C{k % 10}"
                mean = [float("nan") if v is None else v for v in s["test_mean"]]
                sd = [0.0 if v is None or not math.isfinite(v) else v for v in s["test_sd"]]
                ax.plot(s["steps"], mean, color=color, lw=1.8, label=f"{rule} (test)")
                ax.fill_between(s["steps"], [m - d for m, d in zip(mean, sd)], [m + d for m, d in zip(mean, sd)],
                                color=color, alpha=0.18, lw=0)
                ax.plot(s["steps"][1:], s["train_mean"][1:], color=color, lw=0.8, alpha=0.5, label=f"{rule} (train)")
                values += [v for v in mean if math.isfinite(v)]
            for name, value in levels.items():
                ax.axhline(value, color="0.35", ls="--", lw=0.9)
                if j == cols - 1:
                    ax.annotate(f"{value:.2f}", xy=(1.0, value), xycoords=("axes fraction", "data"), xytext=(3, 0),
                                textcoords="offset points", va="center", fontsize=7, color="0.3")
            ax.set_title(f"alpha={alpha:g}, tau={tau}", fontsize=9)
            ax.grid(alpha=0.3)
            if i == rows - 1:
                ax.set_xlabel("training step")
            if j == 0:
                ax.set_ylabel("loss (nats per step)")
    if levels and values:
        top, bottom = max(levels.values()), min(levels.values())
        span = top - bottom
        axes[0][0].set_ylim(min(bottom, min(values)) - 0.08 * span,
                            min(max(top + 0.15 * span, max(values) + 0.03 * span), top + 0.6 * span))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8)
    first = cells[0].config
    fig.suptitle(f"Add(3, 5): mean over {first.seeds} seeds (band ± sd), n={first.hidden}, online SGD lr "
                 f"{first.lr:g}; dashed: {', '.join(f'{k} {v:.2f}' for k, v in levels.items())}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1 - 1.7 / fig.get_figwidth(), 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)

    def report(cells, reports, timing, paths):
        record, record_cell = None, cell_name(args.record_alpha, args.record_tau)
        by_name = {c.name: c for c in cells}
        if "dni_b" in args.rules and record_cell in by_name:
            t0 = time.perf_counter()
            config = by_name[record_cell].config
            record = recorded_run(config, args.seed, args.record_window, args.record_points,
                                  os.path.join(args.out, "apical"))
            compare_final = reports[record_cell]["results"]["dni_b"][str(args.seed)]["final_test_loss"]
            record["compare_final_test_loss"] = compare_final
            paths["apical"] = os.path.join(args.out, "p1_apical.png")
            plot_apical(record, args.units, paths["apical"])
            timing["record_wall_seconds"] = time.perf_counter() - t0
            print(f"recorded run (dni_b, {record_cell}, seed {args.seed}): final test loss "
                  f"{record['final_test_loss']:.6f} (its compare run: {compare_final:.6f}); corr(U_t, c_t) at the "
                  f"end {record['correlation'][-1]:.3f}")
        else:
            print(f"no recorded run: it needs dni_b among the rules and the cell {record_cell} in the grid")
        plot_curves(args, cells, reports, paths["png"])
        return markdown(args, cells, reports, record, record_cell)

    return grid_main(args, make_cells, "p1", report)


if __name__ == "__main__":
    sys.exit(main())
