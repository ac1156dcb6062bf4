"""The run store of ``compare``: each finished (rule, seed) run as OUT/runs/<rule>-seed<k>.json, an
interrupted one's whole state as OUT/runs/<rule>-seed<k>.pt (the checkpoint it resumes from), both written
atomically and stamped with the run's identity (what its result depends on); a file made with another
configuration is a ConfigMismatchError."""
import json
import math
import os
from typing import Callable, Dict, Optional, Tuple

import torch


class ConfigMismatchError(ValueError):
    """A run file in the output folder was made with another configuration."""


def run_paths(out_dir: str, rule: str, seed: int) -> Tuple[str, str]:
    base = os.path.join(out_dir, "runs", f"{rule}-seed{seed}")
    return base + ".json", base + ".pt"


def check_identity(stored: Dict, expected: Dict, path: str) -> None:
    if stored == expected:
        return
    keys = sorted(set(stored) | set(expected))
    diffs = [f"{k}: {stored.get(k)!r} there, {expected.get(k)!r} now" for k in keys if stored.get(k) != expected.get(k)]
    raise ConfigMismatchError(f"{path} was made with another configuration ({'; '.join(diffs)}); "
                              f"use another --out, or delete the file to redo that run")


def load_finished(path: str, identity: Dict) -> Dict:
    with open(path) as f:
        stored = json.load(f)
    check_identity(stored.get("identity", {}), identity, path)
    result = stored["result"]
    for key in ("test_loss", "train_loss"):
        result[key] = [float("nan") if v is None else v for v in result[key]]
    for key in ("final_test_loss", "best_test_loss"):
        result[key] = float("nan") if result[key] is None else result[key]
    return result


def load_checkpoint(path: str, identity: Dict) -> Dict:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    check_identity(json.loads(checkpoint["identity"]), identity, path)
    return checkpoint


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    write(tmp)
    os.replace(tmp, path)


def check_run_files(config, rule: str, seed: int, out_dir: str) -> Optional[str]:
    """'finished', 'checkpoint' or None; ConfigMismatchError when a file there disagrees with config."""
    json_path, pt_path = run_paths(out_dir, rule, seed)
    identity = config.identity(rule, seed)
    if os.path.exists(json_path):
        load_finished(json_path, identity)
        return "finished"
    if os.path.exists(pt_path):
        load_checkpoint(pt_path, identity)
        return "checkpoint"
    return None


def checkpoint_saver(pt_path: str, identity: Dict) -> Callable[[Dict], None]:
    """save(state): writes a run's state, stamped with its identity, as its checkpoint."""
    def save(state: Dict) -> None:
        state["identity"] = json.dumps(identity)
        write_atomic(pt_path, lambda p: torch.save(state, p))

    return save


def save_result(json_path: str, pt_path: str, identity: Dict, result: Dict) -> None:
    """Writes a finished run's file and removes its checkpoint."""
    payload = {"identity": identity, "result": json_safe(result), "torch": torch.__version__}

    def write(p: str) -> None:
        with open(p, "w") as f:
            json.dump(payload, f)

    write_atomic(json_path, write)
    if os.path.exists(pt_path):
        os.remove(pt_path)


def json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
