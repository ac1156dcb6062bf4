"""The JMLR grid (Marschall, Cho & Savin 2020; docs/algorithms.md §6.3): every online rule of the paper on
the two task families, n = 32, alpha = 1, the papers' online protocol (one stream, plain SGD after every
time step, lr 1e-4 for every rule), 10^6 training steps, 5 seeds per cell; the test loss is the mean
per-step loss over a fresh 10,000-step stream with learning off.

  * Add family: AddTask.difficulty(d): t1 = d + 2, t2 = d + 6, tau = 1 (cross-entropy);
  * Mimic family: MimicTask.difficulty(d): n_in = n_out = 2, a 32-unit target RNN with alpha 0.5,
    tau = 2, its W_rec scaled by 0.5 + 0.1 d (MSE);
  * d = 0..9; rules output_only, rtrl, uoro, kf_rtrl, rkf_rtrl, rflo, kernl, dni, dni_b, f_bptt, e_bptt
    as the preset jmlr-2020 sets them (docs/algorithms.md §6.5, rules.<Rule>.paper(2020)): DNI / DNI(b)
    lr_sg = lr_j = 1e-3; KeRNL sigma 1e-3, lr 5 (the difficulty sweep's variant), its perturbed copy from
    a random state; F-BPTT truncation 21; E-BPTT window 20, RFLO with W_out^T feedback and trace rate
    alpha, UORO / KF-RTRL / R-KF-RTRL with +-1 noise; the test stream starts from a random state.
  * each cell's seeds of a rule train as one stack (compare's online stacks: one op call per chunk for all
    seeds, every run bitwise its solo run).

Each cell (family, d) is one compare() with its own folder OUT/<family>-d<d> (runs/ and the cell's
learning_curves.png, curves.csv, curves.json), so an interrupted grid run again with the same --out loads
the finished runs (and resumes checkpointed ones, --checkpoint-every) and trains only the rest. Then:

  OUT/grid.csv     family, d, rule, seeds, final_mean, final_sd, best_mean, seconds (run time summed over the
                   seeds), diverged (seeds whose final test loss is not finite, left out of the mean)
  OUT/grid.md      one table per family: rows = rules, columns = d, cells "final test loss mean ± sd"
  OUT/grid.png     final test loss against d per rule, one panel per family, error bars = sd
  OUT/timing.json  wall time of each cell and in all (also printed)

    python examples/jmlr_grid.py --jobs 2                        # the whole grid (many CPU hours)
    python examples/jmlr_grid.py --families add --difficulties 0,3,6,9 --rules rflo,rtrl --steps 200000
    python examples/jmlr_grid.py --quick --out /tmp/grid         # seconds: n=8, 300 steps, d in {0,1}, 2 seeds
    python examples/jmlr_grid.py --backend ray --address auto    # every run a task on the Ray cluster
    python examples/jmlr_grid.py --quick --tensorboard /tmp/tb   # + the learning curves for TensorBoard

Differences from the papers' code: the Mimic target network is the same for every seed (target_seed 0).
Before the preset (commit 75fb550 and earlier) the test stream started from zeros and KeRNL's perturbed copy
from the run's start: RESULTS.md's scaled-down grid was made so.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _grid, next to this script

from _grid import Cell, apply_defaults, fmt_mean_sd, grid_main, parse_int_list, split_list  # noqa: E402
from torch_local_rnn.experiments.cli import add_backend_and_log_arguments  # noqa: E402
from torch_local_rnn.experiments.presets import JMLR_RULES, preset_config  # noqa: E402

FAMILIES = ("add", "mimic")
RULES = JMLR_RULES
FAMILY_TITLES = {"add": "Add family: t1 = d+2, t2 = d+6, tau = 1\n(cross-entropy, nats per step)",
                 "mimic": "Mimic family: target RNN n=32, alpha 0.5, tau 2, W_rec x (0.5 + 0.1 d)\n"
                          "(MSE, 1/2 mean over outputs, per step)"}
QUICK = dict(hidden=8, steps=300, difficulties="0,1", seeds=2, test_steps=500)
FULL = dict(hidden=32, steps=1_000_000, difficulties="0-9", seeds=5, test_steps=10_000)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--families", default=",".join(FAMILIES), help="comma-separated, from add,mimic (default both)")
    a("--difficulties", default=None, help="d values, e.g. 0-9 or 0,3,6,9 (default 0-9; quick 0,1)")
    a("--rules", default=",".join(RULES), help="comma-separated online rules (default: all of the paper)")
    a("--steps", type=int, default=None, help="training steps per run (default 1,000,000; quick 300)")
    a("--seeds", type=int, default=None, help="seeds per cell: seed, seed+1, ... (default 5; quick 2)")
    a("--seed", type=int, default=0, help="first seed (default 0)")
    a("--hidden", type=int, default=None, help="hidden units (default 32; quick 8)")
    a("--lr", type=float, default=1e-4, help="online SGD learning rate of every rule (default 1e-4)")
    a("--test-steps", type=int, default=None, help="steps of the fresh test stream (default 10,000; quick 500)")
    a("--eval-every", type=int, default=None, help="steps between test evaluations (default steps/25)")
    a("--checkpoint-every", type=int, default=None,
      help="save each unfinished run's state every this many steps (default: only finished runs are saved)")
    a("--jobs", type=int, default=None,
      help="processes (default: min(CPUs, runs to do); quick 1); over cells when there are at least as many cells "
           "to do, else over each cell's runs; with --backend ray, the most Ray tasks at a time (default: all)")
    add_backend_and_log_arguments(p)  # --backend, --address, --tensorboard: as compare's
    a("--out", default=os.path.join("results", "jmlr_grid"), help="output folder (default results/jmlr_grid)")
    a("--quick", action="store_true",
      help="a smoke run of the whole pipeline in seconds: n=8, 300 steps, d in {0,1}, 2 seeds, test 500 steps "
           "(flags given explicitly still win)")
    a("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    apply_defaults(args, QUICK, FULL)
    args.families = split_list(args.families)
    for family in args.families:
        if family not in FAMILIES:
            p.error(f"--families: expected names from {FAMILIES}, but got '{family}'")
    args.difficulties = parse_int_list(args.difficulties, "--difficulties")
    args.rules = split_list(args.rules)
    return args


def make_cells(args):
    cells = []
    for family in args.families:
        for d in args.difficulties:
            config = preset_config("jmlr-2020", rules=args.rules, task=family, task_options={"difficulty": d},
                                   hidden=args.hidden, steps=args.steps, lr=args.lr, seed=args.seed,
                                   seeds=args.seeds, test_steps=args.test_steps, eval_every=args.eval_every,
                                   threads=1, jobs=args.jobs, checkpoint_every=args.checkpoint_every)
            cells.append(Cell(f"{family}-d{d}", config, {"family": family, "d": d}))
    return cells


def markdown(args, cells, reports):
    first = cells[0].config
    lines = ["# JMLR grid: final test loss, mean ± sd over seeds", "",
             f"n={first.hidden}, alpha={first.alpha:g}, tanh; online (one stream, SGD lr {first.lr:g} after every "
             f"step), {first.steps:,} steps; seeds {first.seed_list[0]}..{first.seed_list[-1]}; test: mean per-step "
             f"loss over a fresh {first.test_steps:,}-step stream ({first.test_state} initial state), learning off.",
             "Rule settings (rules.<Rule>.paper(2020)): " + "; ".join(
                 f"{r} {', '.join(f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in o.items())}"
                 for r, o in first.rule_options.items()) + "; the rest defaults.", ""]
    for family in args.families:
        mine = [c for c in cells if c.labels["family"] == family]
        lines += [f"## {FAMILY_TITLES[family].replace(chr(10), ' ')}", ""]
        levels = reports[mine[0].name]["reference_levels"]
        if levels:
            lines += ["Reference levels: " + ", ".join(f"{k} {v:.4f}" for k, v in levels.items()), ""]
        lines.append("| rule | " + " | ".join(f"d={c.labels['d']}" for c in mine) + " |")
        lines.append("|---|" + "---|" * len(mine))
        for rule in args.rules:
            row = []
            for c in mine:
                s = reports[c.name]["summary"].get(rule)
                row.append("-" if s is None else fmt_mean_sd(s["final_mean"], s["final_sd"]))
            lines.append(f"| {rule} | " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(args, cells, reports, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.families), figsize=(6.5 * len(args.families) + 1.8, 5.5), squeeze=False)
    colors = [f"C{k}" for k in range(10)] + ["k"]
    markers = "osD^v<>pXh*"
    for ax, family in zip(axes[0], args.families):
        mine = [c for c in cells if c.labels["family"] == family]
        for k, rule in enumerate(args.rules):
            ds, means, sds = [], [], []
            for c in mine:
                s = reports[c.name]["summary"].get(rule)
                if s is not None and math.isfinite(s["final_mean"]):
                    ds.append(c.labels["d"])
                    means.append(s["final_mean"])
                    sds.append(s["final_sd"])
            if ds:
                ax.errorbar([d + 0.02 * (k - (len(args.rules) - 1) / 2) for d in ds], means, yerr=sds,
                            color=colors[k % len(colors)], marker=markers[k % len(markers)], ms=4, lw=1.3,
                            capsize=2, label=rule)
        levels = reports[mine[0].name]["reference_levels"]
        for name, value in sorted(levels.items(), key=lambda kv: -kv[1]):
            ax.axhline(value, color="0.4", ls="--", lw=1)
            ax.annotate(f"{name} {value:.4f}", xy=(1.0, value), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                        textcoords="offset points", ha="right", va="bottom", fontsize=7, color="0.3")
        if reports[mine[0].name]["loss"] == "mse":
            ax.set_yscale("log")
        ax.set_xticks([c.labels["d"] for c in mine])
        ax.set_xlabel("difficulty d")
        ax.set_ylabel("final test loss (mean ± sd over seeds)")
        ax.set_title(FAMILY_TITLES[family], fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, title="rule", title_fontsize=8)
    first = cells[0].config
    fig.suptitle(f"JMLR grid: n={first.hidden}, alpha={first.alpha:g}, online SGD lr {first.lr:g}, "
                 f"{first.steps:,} steps, {first.seeds} seeds", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 1.6 / fig.get_figwidth(), 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)

    def report(cells, reports, timing, paths):
        plot(args, cells, reports, paths["png"])
        return markdown(args, cells, reports)

    return grid_main(args, make_cells, "grid", report)


if __name__ == "__main__":
    sys.exit(main())
