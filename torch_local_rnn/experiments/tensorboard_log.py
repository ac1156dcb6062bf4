"""``compare --tensorboard DIR``: each run's learning curve as TensorBoard scalars, one writer per run in
DIR/<rule>-seed<k> (so TensorBoard overlays every rule and seed in one chart per tag), tags ``test_loss``
and ``train_loss``, the step being training steps per stream: the numbers of curves.csv.

Written from the report once the runs are done, so a run loaded from the run store is logged like one
trained now, and whichever backend ran it. The values are stored as doubles (torch's ``double_precision``),
so they read back equal to curves.csv, not rounded to float32."""
import glob
import math
import os
from typing import Dict, List

from .optional import require

EVENT_FILES = "events.out.tfevents.*"


def require_tensorboard():
    """torch.utils.tensorboard, or MissingDependencyError naming --tensorboard and how to install it."""
    return require("torch.utils.tensorboard", "--tensorboard", "tensorboard")


def write_tensorboard(report: Dict, log_dir: str) -> List[str]:
    """Writes every run of ``report`` (compare's) under ``log_dir``; returns the run folders."""
    summary_writer = require_tensorboard().SummaryWriter
    folders = []
    for rule, by_seed in report["results"].items():
        for seed, result in by_seed.items():
            folder = os.path.join(log_dir, f"{rule}-seed{seed}")
            # A rerun with the same DIR writes the same curves again: TensorBoard would read the old event
            # files too and show every point twice.
            for old in glob.glob(os.path.join(folder, EVENT_FILES)):
                os.remove(old)
            with summary_writer(folder) as writer:
                for step, test, train in zip(result["steps"], result["test_loss"], result["train_loss"]):
                    writer.add_scalar("test_loss", test, step, new_style=True, double_precision=True)
                    if not math.isnan(train):  # no training before the first point
                        writer.add_scalar("train_loss", train, step, new_style=True, double_precision=True)
            folders.append(folder)
    return folders
