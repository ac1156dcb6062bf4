"""What ``compare`` and ``align`` report: compare's summary over seeds, its table, curves.csv, curves.json and
learning_curves.png; align's table, alignment.csv/.json/.png and the DNI credit figures and CSVs."""
import csv
import json
import math
import os
import statistics
import textwrap
from typing import Dict, Optional, Sequence, Tuple

import torch

from .store import json_safe


# ---------------------------------------------------------------------------- compare: summary
def mean_sd(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for one value); nan for none."""
    values = list(values)
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(per_seed: Dict[int, Dict]) -> Dict:
    """Over the seeds of one rule: final test loss mean +- sd and best (over the seeds whose final test
    loss is finite; the others are counted as diverged), time, and the mean +- sd curve."""
    finals = [r["final_test_loss"] for r in per_seed.values()]
    finite = [v for v in finals if math.isfinite(v)]
    final_mean, final_sd = mean_sd(finite)
    bests = [r["best_test_loss"] for r in per_seed.values() if math.isfinite(r["best_test_loss"])]
    seconds = [r["seconds"] for r in per_seed.values()]
    longest = max(per_seed.values(), key=lambda r: len(r["steps"]))
    points = len(longest["steps"])
    # A run that stopped early (stop_below) keeps its model from then on: its curve is extended with its last
    # test loss, and with no training loss (nan), so every point averages over all the seeds.
    test = [r["test_loss"] + [r["test_loss"][-1]] * (points - len(r["test_loss"])) for r in per_seed.values()]
    train = [r["train_loss"] + [float("nan")] * (points - len(r["train_loss"])) for r in per_seed.values()]
    curve_mean, curve_sd = [], []
    for k in range(points):
        mean, sd = mean_sd([t[k] for t in test if math.isfinite(t[k])])
        curve_mean.append(mean)
        curve_sd.append(sd)
    train_mean = [mean_sd([t[k] for t in train if math.isfinite(t[k])])[0] for k in range(points)]
    return {"n": len(per_seed), "diverged": len(finals) - len(finite), "final_mean": final_mean, "final_sd": final_sd,
            "best_mean": mean_sd(bests)[0], "best_min": min(bests) if bests else float("nan"),
            "seconds_mean": statistics.fmean(seconds), "seconds_total": sum(seconds),
            "stopped": sum(1 for r in per_seed.values() if r.get("stopped")),
            "steps": list(longest["steps"]), "test_mean": curve_mean, "test_sd": curve_sd, "train_mean": train_mean}


def build_report(config, task, runs, results, skipped) -> Dict:
    per_rule: Dict[str, Dict[int, Dict]] = {}
    interrupted = []
    for rule, seed in runs:
        result = results.get((rule, seed))
        if result is None:
            interrupted.append(f"{rule}-seed{seed}")
        else:
            per_rule.setdefault(rule, {})[seed] = result
    return {"config": config.as_dict(), "description": config.describe(), "task": repr(task), "loss": task.loss,
            "reference_levels": task.reference_levels, "seeds": config.seed_list,
            "results": {rule: {str(seed): r for seed, r in by_seed.items()} for rule, by_seed in per_rule.items()},
            "summary": {rule: summarise(by_seed) for rule, by_seed in per_rule.items()},
            "skipped": skipped, "interrupted": interrupted,
            "test": f"mean per-step loss over {config.test_streams} fresh streams x {config.test_steps:,} steps "
                    f"(seed 2k+1 for seed k), {'random' if config.test_state == 'random' else 'zero'} initial state, "
                    f"learning off",
            "torch": torch.__version__}


# ---------------------------------------------------------------------------- compare: output
LOSS_UNITS = {"cross_entropy": "nats per step", "mse": "per step"}
LOSS_LABELS = {"cross_entropy": "cross-entropy (nats per step)",
               "mse": "mean squared error (1/2 mean over outputs, per step)"}


def _learned(levels: Dict[str, float], value: float) -> Optional[float]:
    if len(levels) < 2 or not math.isfinite(value):
        return None
    top, bottom = max(levels.values()), min(levels.values())
    return 100.0 * (top - value) / (top - bottom) if top > bottom else None


def format_table(report: Dict) -> str:
    levels = report["reference_levels"]
    w = max([12] + [len(rule) + 2 for rule in list(report["summary"]) + list(report["skipped"])])  # rule column
    width = 62 + w
    lines = [report["description"], f"test loss: {report['test']}", "",
             f"  {'rule':<{w}}{'n':>3}{'final test loss':>20}{'best':>9}{'learned':>9}{'time/run':>10}",
             "  " + "-" * width]
    for rule, s in report["summary"].items():
        learned = _learned(levels, s["final_mean"])
        final = f"{s['final_mean']:.4f} ± {s['final_sd']:.4f}" if math.isfinite(s["final_mean"]) else "diverged"
        lines.append(f"  {rule:<{w}}{s['n']:>3}{final:>20}{s['best_mean']:>9.4f}"
                     f"{'' if learned is None else f'{learned:.0f}%':>9}{s['seconds_mean']:>9.1f}s")
    for rule, why in report["skipped"].items():
        lines.append(f"  {rule:<{w}}{'-':>3}{'-':>20}   {why}")
    stop_below = report["config"].get("stop_below")
    for rule, s in report["summary"].items():
        if stop_below is not None:
            steps = sorted(r["steps"][-1] for r in report["results"][rule].values() if r.get("stopped"))
            when = f" (median at step {steps[len(steps) // 2]:,})" if steps else ""
            lines.append(f"  {rule}: {len(steps)} of {s['n']} seeds reached a test loss below {stop_below:g} and "
                         f"stopped{when}")
        if s["diverged"]:
            lines.append(f"  note: {rule} diverged (non-finite test loss) in {s['diverged']} of {s['n']} seeds "
                         f"(left out of its mean); try a lower --lr")
    if report["interrupted"]:
        lines.append(f"  interrupted (checkpoint saved): {', '.join(report['interrupted'])}")
    lines.append("  " + "-" * width)
    lines.append("  final test loss: mean ± sd (n - 1) over the seeds; best: mean over the seeds of each "
                 "curve's lowest point")
    if levels:
        lines.append(f"  reference levels ({LOSS_UNITS.get(report['loss'], 'per step')}):")
        for name, value in sorted(levels.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {'':<6}{value:>16.4f}   {name}")
        if len(levels) >= 2:
            top = max(levels, key=levels.get)
            bottom = min(levels, key=levels.get)
            lines.append(f"  learned = ({top} - final) / ({top} - {bottom})")
    else:
        lines.append("  (this task has no exactly computable reference levels)")
    return "\n".join(lines)


def write_outputs(report: Dict, out_dir: str) -> Dict[str, str]:
    """learning_curves.png, curves.csv, curves.json in out_dir; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f) for k, f in
             (("png", "learning_curves.png"), ("csv", "curves.csv"), ("json", "curves.json"))}
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["rule", "seed", "step", "test_loss", "train_loss"])
        for rule, by_seed in report["results"].items():
            for seed, r in by_seed.items():
                for step, test, train in zip(r["steps"], r["test_loss"], r["train_loss"]):
                    writer.writerow([rule, seed, step, repr(float(test)),
                                     "" if math.isnan(train) else repr(float(train))])
    with open(paths["json"], "w") as f:
        json.dump(json_safe(report), f, indent=1)
    plot_curves(report, paths["png"])
    return paths


def plot_curves(report: Dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    for k, (rule, s) in enumerate(report["summary"].items()):
        color = f"C{k % 10}"
        steps = s["steps"]
        mean = [float("nan") if v is None else v for v in s["test_mean"]]
        sd = [0.0 if v is None or not math.isfinite(v) else v for v in s["test_sd"]]
        final = f"{s['final_mean']:.4f} ± {s['final_sd']:.4f}" if math.isfinite(s["final_mean"]) else "diverged"
        ax.plot(steps, mean, color=color, lw=2, marker="o", ms=3, label=f"{rule}: test, n={s['n']} (final {final})")
        if s["n"] > 1:
            ax.fill_between(steps, [m - d for m, d in zip(mean, sd)], [m + d for m, d in zip(mean, sd)],
                            color=color, alpha=0.18, lw=0)
        ax.plot(steps[1:], s["train_mean"][1:], color=color, lw=1, alpha=0.45, label=f"{rule}: train")
    levels = report["reference_levels"]
    for name, value in sorted(levels.items(), key=lambda kv: -kv[1]):
        ax.axhline(value, color="0.35", ls="--", lw=1)
        ax.annotate(f"{name} {value:.4f}", xy=(1.0, value), xycoords=("axes fraction", "data"),
                    xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom", fontsize=8, color="0.3")
    values = [v for s in report["summary"].values() for v in s["test_mean"] if v is not None and math.isfinite(v)]
    if levels and values:
        top, bottom = max(levels.values()), min(levels.values())
        span = (top - bottom) or max(abs(top), 1e-3)
        low = min(bottom, min(values)) - 0.08 * span
        high = min(max(top + 0.1 * span, max(values) + 0.03 * span), top + 0.5 * span)
        ax.set_ylim(low, high)
    ax.set_xlabel("training steps per stream")
    ax.set_ylabel(LOSS_LABELS.get(report["loss"], report["loss"]))
    ax.set_title(textwrap.fill(report["description"], 110) + "\nmean over seeds, band: ± sd", fontsize=8)
    ax.grid(alpha=0.3)
    if report["summary"]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------- align: output
def format_alignment_table(report: Dict) -> str:
    lines = [report["description"], report["measure"], "",
             f"  {'rule':<12}{'phase':<8}{'steps':>18}{'cos mean':>10}{'median':>9}{'|est|/|ex|':>12}{'median':>9}",
             "  " + "-" * 78]
    for rule, entries in report["summary"].items():
        for e in entries:
            span = f"{e['first_step']:,}-{e['last_step']:,}"
            lines.append(f"  {rule:<12}{e['phase']:<8}{span:>18}{e['cosine_mean']:>10.4f}{e['cosine_median']:>9.4f}"
                         f"{e['norm_ratio_mean']:>12.4g}{e['norm_ratio_median']:>9.4g}")
    lines.append("  " + "-" * 78)
    others = {r["network"] for r in report["rows"] if not r["network"].startswith("trained by")}
    if others:
        lines.append("  dni / dni_b: measured on a learner of their own trained alongside (same stream, initial "
                     "weights and lr)")
    for rule, c in report["credit"].items():
        corr = [v for v in c["correlation"] if math.isfinite(v)]
        lines.append(f"  {rule}: corr(U_t, true credit c_t) over the first {c['steps_used']} steps of each window: "
                     f"first point {c['correlation'][0]:.3f}, last {c['correlation'][-1]:.3f}, "
                     f"mean {statistics.fmean(corr) if corr else float('nan'):.3f}")
    return "\n".join(lines)


def write_alignment_outputs(report: Dict, out_dir: str) -> Dict[str, str]:
    """alignment.csv, alignment.json, alignment.png and, per DNI rule, <rule>_credit.png / .csv."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f"alignment.{k}") for k in ("csv", "json", "png")}
    keys = ("rule", "point", "step", "cosine", "norm_ratio", "estimate_norm", "exact_norm", "window_loss", "network")
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(keys)
        for row in report["rows"]:
            writer.writerow([repr(row[k]) if isinstance(row[k], float) else row[k] for k in keys])
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    with open(paths["json"], "w") as f:
        json.dump(json_safe(public), f, indent=1)
    plot_alignment(report, paths["png"])
    units = report["config"]["units"]
    for rule, last in report["_last_credit"].items():
        paths[f"{rule}_credit_png"] = os.path.join(out_dir, f"{rule}_credit.png")
        paths[f"{rule}_credit_csv"] = os.path.join(out_dir, f"{rule}_credit.csv")
        apical, credit = last["apical"], last["credit"]
        with open(paths[f"{rule}_credit_csv"], "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["step", "t", "stream", "unit", "apical_U", "credit_c"])
            T, B, n = apical.shape
            for t in range(T):
                for b in range(B):
                    for u in range(n):
                        writer.writerow([last["step"] + t + 1, t, b, u, repr(apical[t, b, u].item()),
                                         repr(credit[t, b, u].item())])
        plot_credit(report, rule, last, min(units, apical.shape[2]), paths[f"{rule}_credit_png"])
    return paths


def plot_alignment(report: Dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_cos, ax_ratio) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for k, (rule, r) in enumerate(report["rules"].items()):
        color = f"C{k % 10}"
        style = "--" if not r["network"].startswith("trained by") else "-"
        ax_cos.plot(r["step"], r["cosine"], style, color=color, marker="o", ms=3, label=rule)
        ratios = [v if v is not None and math.isfinite(v) and v > 0 else float("nan") for v in r["norm_ratio"]]
        ax_ratio.plot(r["step"], ratios, style, color=color, marker="o", ms=3, label=rule)
    ax_cos.axhline(0.0, color="0.5", lw=0.8)
    ax_cos.set_ylabel("cosine(estimate, BPTT)")
    ax_cos.set_ylim(-1.05, 1.05)
    ax_ratio.axhline(1.0, color="0.5", lw=0.8)
    ax_ratio.set_yscale("log")
    ax_ratio.set_ylabel("|estimate| / |BPTT|")
    ax_ratio.set_xlabel("training step")
    ax_cos.set_title(f"{report['description']}\n{report['measure']}\n(dashed: measured on the rule's own learner)",
                     fontsize=7)
    for ax in (ax_cos, ax_ratio):
        ax.grid(alpha=0.3)
    ax_cos.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_credit(report: Dict, rule: str, last: Dict, units: int, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    apical, credit = last["apical"][:, 0], last["credit"][:, 0]  # stream 0
    T, half = apical.shape[0], report["credit"][rule]["steps_used"]
    steps = [last["step"] + t + 1 for t in range(T)]
    fig, axes = plt.subplots(units + 1, 1, figsize=(9, 1.8 * (units + 1) + 0.6))
    per_unit = report["credit"][rule]["last"]["correlation_per_unit"]
    for u in range(units):
        ax = axes[u]
        ax.plot(steps, apical[:, u].tolist(), color="C3", lw=1.5, label="apical potential U_t")
        ax.plot(steps, credit[:, u].tolist(), color="k", lw=1.2, ls="--", label="true credit c_t = dL/da_t")
        ax.axvspan(steps[min(half, T - 1)], steps[-1], color="0.9", lw=0)
        ax.set_ylabel(f"unit {u}\nr={per_unit[u]:.2f}", fontsize=8)
        ax.grid(alpha=0.3)
        if u == 0:
            ax.legend(fontsize=7, loc="upper right")
            ax.set_title(f"{rule}: apical potential vs true credit over the window after step {last['step']:,} "
                         f"(stream 0; grey: credit truncated by the window's end)", fontsize=8)
    ax = axes[units]
    c = report["credit"][rule]
    ax.plot(c["steps"], c["correlation"], marker="o", ms=3, color="C3")
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_ylabel("corr(U, c)", fontsize=8)
    ax.set_xlabel("training step")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
