"""Data-parallel online learning (docs/algorithms.md §2.9): W processes x B streams on shared weights, every
step's update averaged over all W·B streams, launched with torchrun:

    torchrun --standalone --nproc_per_node 2 examples/online_data_parallel.py --batch 8 --steps 20000
    python examples/online_data_parallel.py --batch 16 --steps 20000          # the same run in one process

Every rank draws the same Add-task streams (W·B of them, seed 0) and trains on its own slice, so the two
commands above train the same network (to rounding). Rank 0 prints the mean training loss of each chunk and
the time per step; --out FILE saves the run's checkpoint (rank 0 writes it; it holds every rank's streams, so
--resume FILE continues all ranks from it).
"""
import argparse
import os
import sys
import time

import torch
import torch.distributed as dist
from torch import nn

from torch_local_rnn import LocalRNN, OnlineLearner
from torch_local_rnn.tasks import AddTask

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--steps", type=int, default=20_000)
parser.add_argument("--batch", type=int, default=8, help="streams per process")
parser.add_argument("--units", type=int, default=32)
parser.add_argument("--rule", default="rflo")
parser.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum", "adam", "adamw"])
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--sync-every", type=int, default=1, help="1: every step's update all-reduced (exact); k > 1: "
                    "the weights averaged every k steps")
parser.add_argument("--chunk", type=int, default=5_000)
parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
parser.add_argument("--out", default=None, help="save the final checkpoint here (rank 0 writes it)")
parser.add_argument("--resume", default=None, help="continue from a checkpoint --out wrote")
args = parser.parse_args()

torch.set_num_threads(1)
torch.manual_seed(0)  # the readout's initial weights: the same in both launches
distributed = "RANK" in os.environ  # launched by torchrun
if distributed:
    dist.init_process_group("gloo")
rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
dtype = getattr(torch, args.dtype)

task = AddTask(t1=5, t2=9)
g = torch.Generator().manual_seed(0)  # the same initial weights on every rank (rank 0's are broadcast anyway)
rnn = LocalRNN(task.input_size, args.units, generator=g, dtype=dtype)
readout = nn.Linear(args.units, task.output_size).to(dtype)
learner = OnlineLearner(rnn, readout, loss=task.loss, rule=args.rule, optimizer=args.optimizer, lr=args.lr,
                        batch_size=args.batch, generator=g, process_group=dist.group.WORLD if distributed else None,
                        sync_every=args.sync_every)
if args.resume:
    learner.load_state_dict(torch.load(args.resume))
mine = slice(rank * args.batch, (rank + 1) * args.batch)
done = int(learner.steps_done)
for x, y in task.stream(done + args.steps, batch=world * args.batch, chunk_size=args.chunk, seed=0, dtype=dtype):
    if done > 0:  # a resumed run skips what it has trained on
        skip = min(done, x.shape[0])
        x, y, done = x[skip:], y[skip:], done - skip
        if x.shape[0] == 0:
            continue
    start = time.perf_counter()
    losses = learner.fit(x[:, mine], y[:, mine])
    per_step = (time.perf_counter() - start) / x.shape[0]
    if rank == 0:
        print(f"step {int(learner.steps_done):>8,}  train {losses.mean().item():.4f}  "
              f"{per_step * 1e6:.1f} us/step ({world} x {args.batch} streams)", flush=True)
state = learner.state_dict()  # a collective under torchrun: every rank takes part
if args.out and rank == 0:
    torch.save(state, args.out)
if distributed:
    dist.barrier()  # every rank done (rank 0 has saved) before any exits
    # On this torch (2.13, gloo) a rank's exit aborted now and then in gloo's teardown, after all the work
    # ("terminate called without an active exception", no Python frame; with or without destroy_process_group).
    # Everything is written: leave without running the C++ static destructors.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
