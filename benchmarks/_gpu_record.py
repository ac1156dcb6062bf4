"""The measuring and recording half of benchmarks/bench_gpu.py: synchronised timers sized by a time budget, the
library's switches set for one block, what the library says of the paths it took, and the JSON record that is
rewritten after every case (so a run cut short still leaves what it measured)."""
import contextlib
import datetime
import inspect
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback

import torch

import torch_local_rnn
from torch_local_rnn import ops

SEQUENCE_SWITCH, PERSISTENT_SWITCH, ONLINE_SWITCH = "TLR_CUDA_SEQUENCE", "TLR_CUDA_PERSISTENT", "TLR_CUDA_ONLINE"
MEMBERS_SWITCH = "TLR_CUDA_MEMBERS"
START = time.perf_counter()


def say(*parts):
    print(*parts, flush=True)


# ---------------------------------------------------------------------------------------------- timing
def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device):
    """Seconds of one call of fn, synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def measure_ms(fn, device, budget, min_repeat=3, max_repeat=50):
    """Median milliseconds of fn after one warm-up call; as many repeats as fit in budget seconds (3 to 50)."""
    timed(fn, device)
    first = timed(fn, device)
    repeat = max(min_repeat, min(max_repeat, int(budget / max(first, 1e-9))))
    times = [first] + [timed(fn, device) for _ in range(repeat - 1)]
    return statistics.median(times) * 1e3


def measure_rate(run, device, budget, max_count):
    """Steps per second of run(count) (count steps in one call), sized by budget seconds: a warm-up call of one
    step, a doubling probe up to about budget/10, then up to 3 calls of about budget/3 each (the median). A
    warm-up call longer than the budget ends it there: its rate is the record (a very slow step). Returns a dict
    with "rate", "count" (steps per timed call), "repeats" and "seconds" (the median call)."""
    warm = timed(lambda: run(1), device)
    if warm >= budget or max_count <= 1:
        return {"rate": 1 / warm, "count": 1, "repeats": 1, "seconds": warm, "note": "the warm-up call only"}
    k, t = 1, timed(lambda: run(1), device)
    while t < budget / 10 and k < max_count:
        grow = max(2.0, min(16.0, (budget / 10) / max(t, 1e-9)))
        k = min(max_count, int(math.ceil(k * grow)))
        t = timed(lambda: run(k), device)
    count = max(1, min(max_count, int(k * (budget / 3) / max(t, 1e-9))))
    repeats = 3 if count * (t / k) * 3 <= budget * 1.5 else 1
    times = [timed(lambda: run(count), device) for _ in range(repeats)]
    seconds = statistics.median(times)
    return {"rate": count / seconds, "count": count, "repeats": repeats, "seconds": seconds}


@contextlib.contextmanager
def environment(name, value):
    """os.environ[name] = value for the block (the library reads its switches per call), then as it was."""
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


PATH_NAME = re.compile(r"(sequence|online).*(path|kernel|mode)|(path|kernel|mode).*(sequence|online)")


def library_paths():
    """What the library says of the paths it took: every zero-argument function of ops whose name speaks of a
    sequence or online path/kernel/mode (none in a library that does not expose one), and the switches set."""
    found = {}
    for name in sorted(dir(ops)):
        fn = getattr(ops, name, None)
        if name.startswith("_") or not PATH_NAME.search(name) or not inspect.isfunction(fn):
            continue
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            continue
        if any(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            continue
        try:
            value = fn()
            found[name] = value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
        except Exception as error:  # noqa: BLE001 (a record, not a check)
            found[name] = f"error: {error}"
    for switch in (SEQUENCE_SWITCH, PERSISTENT_SWITCH, ONLINE_SWITCH, MEMBERS_SWITCH):
        if switch in os.environ:
            found[switch] = os.environ[switch]
    return found


# ---------------------------------------------------------------------------------------------- the record
class Record:
    """The JSON record: cases run one by one, each in its own try/except, the file rewritten after each."""

    def __init__(self, path, device, args):
        self.path, self.device, self.deadline = path, device, args.max_seconds
        self.data = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "device": device_name(device), "torch": torch.__version__, "cuda": torch.version.cuda,
                     "python": platform.python_version(), "commit": git_commit(), "quick": bool(args.quick),
                     "cpu": {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                             "online_step_isa": call_or_error(ops.online_step_isa)},
                     "has_cuda_kernels": bool(torch_local_rnn.has_cuda_kernels()), "cases": {}}
        self.write()

    def case(self, name, fn, *args, **kwargs):
        if time.perf_counter() - START > self.deadline:
            result = {"error": f"skipped: past --max-seconds {self.deadline:g}"}
            say(f"{name}: {result['error']}")
        else:
            start = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 (one kernel's bug must not lose the rest of the record)
                result = {"error": f"{type(error).__name__}: {error}"[:2000]}
                say(f"{name}: ERROR {result['error'][:500]}")
                traceback.print_exc(limit=4, file=sys.stdout)
                sys.stdout.flush()
                with contextlib.suppress(Exception):
                    sync(self.device)
            result["case_s"] = round(time.perf_counter() - start, 2)
            say(f"  [{name}: {result['case_s']:.1f} s; {time.perf_counter() - START:.0f} s in all]")
        self.data["cases"][name] = result
        self.write()
        return result

    def write(self):
        self.data["total_s"] = round(time.perf_counter() - START, 2)
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        staging = self.path + ".partial"
        with open(staging, "w") as f:
            json.dump(rounded(self.data), f, indent=1, default=str)
            f.write("\n")
        os.replace(staging, self.path)


def rounded(value, digits=5):
    """value with every float rounded to `digits` significant digits (the record's noise is larger)."""
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def git_commit():
    """HEAD's short hash, with " + N changed paths" where the working tree differs from it (the device machine's
    checkout names the session's base commit and carries the working tree on top), or None outside git."""
    here = os.path.dirname(os.path.abspath(__file__))

    def git(*args):
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10).stdout

    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        changed = len([line for line in git("status", "--porcelain").splitlines() if line.strip()])
        return (head + (f" + {changed} changed paths" if changed else "")) or None
    except Exception:  # noqa: BLE001
        return None


def call_or_error(fn):
    try:
        return fn()
    except Exception as error:  # noqa: BLE001
        return f"error: {error}"


def reraise(error):
    raise error


def has_error(value):
    """Whether a result, or any result inside it (a rule of online_rules), records an error."""
    return isinstance(value, dict) and ("error" in value or any(has_error(v) for v in value.values()))


def ratio(a, b):
    return a / b if a is not None and b else None
