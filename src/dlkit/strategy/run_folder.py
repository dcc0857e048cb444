"""A run folder: what ``dlkit train`` writes and ``dlkit evaluate`` / ``predict`` read.

    config.json             the options, the task, the input shape, the split sizes
    model.safetensors       the model (config + weights; ``dlkit.io.load``)
    preprocess.safetensors  the Standardizer's mu and sigma (when inputs were standardized)
    history.csv             per-epoch loss and metrics (train and dev)
    metrics.json            final loss and metrics on train, dev and test
    curves.png, decision_boundary.png (2-D data)   with matplotlib installed
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dlkit.data import Standardizer
from dlkit.errors import UserError
from dlkit.io import atomic_write_bytes
from dlkit.io.files import read_safetensors, write_safetensors

CONFIG, MODEL, PREPROCESS, HISTORY, METRICS = ("config.json", "model.safetensors",
                                               "preprocess.safetensors", "history.csv",
                                               "metrics.json")
CHECKPOINT = "checkpoint.safetensors"
RUNNING, COMPLETE, FAILED = "running", "complete", "failed"
RUN_FILES = (CONFIG, MODEL, HISTORY, METRICS, CHECKPOINT)


def new_run_folder(out: str | None, name: str, overwrite: bool = False,
                   command: str = "train") -> Path:
    """``out`` as given, or ``runs/<name>-<date>-<time>`` (a fresh folder). An ``out`` that
    already holds a run is refused unless ``overwrite`` (then its run files are removed); an
    ``out`` that is a file is refused."""
    if out is not None:
        folder = Path(out)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"--out {out!r} is a file, not a folder", command)
        held = [n for n in RUN_FILES if (folder / n).exists()]
        if held and not overwrite:
            raise UserError(f"--out {out!r} already holds a run ({', '.join(held)}); pass "
                            "--overwrite to replace it, or --resume to continue it", command)
        for n in held:
            (folder / n).unlink()
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = Path("runs") / f"{name}-{stamp}"
        k = 1
        while folder.exists():
            k += 1
            folder = Path("runs") / f"{name}-{stamp}-{k}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_fingerprint(recorded: dict[str, Any] | None, now: dict[str, Any] | None,
                      command: str) -> None:
    """A clear error when the data a run was trained on has changed since (its split would
    not be the same); nothing for runs that recorded no fingerprint."""
    if not recorded or not now:
        return
    if now.get("sha256") != recorded.get("sha256"):
        where = recorded.get("path") or recorded.get("name") or "?"
        raise UserError(f"the data of this run changed since training: {where!r} had SHA-256 "
                        f"{str(recorded.get('sha256'))[:16]}..., it now has "
                        f"{str(now.get('sha256'))[:16]}...; the run's train/dev/test split "
                        "cannot be reproduced (evaluate on a file with --data instead)", command)


def check_complete(folder: Path, config: dict[str, Any], command: str) -> None:
    """An unfinished run (killed, or stopped by divergence) has no final model to use."""
    status = config.get("status", COMPLETE)
    if status != COMPLETE:
        resume = " (dlkit train --resume continues it)" if (folder / CHECKPOINT).exists() \
            else ""
        raise UserError(f"run {str(folder)!r} is unfinished (status {status!r}): training did "
                        f"not complete{resume}", command)


def set_status(folder: Path, status: str, **extra: Any) -> None:
    """Record the run's status in config.json: running, complete or failed."""
    config = json.loads((folder / CONFIG).read_text())
    config.update(status=status, **extra)
    write_json(folder / CONFIG, config)


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode(), "dlkit")


def read_json(folder: Path, name: str, command: str,
              required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON object of the run folder; ``required`` keys must be there."""
    path = folder / name
    if not path.exists():
        raise UserError(f"{str(folder)!r} is not a dlkit run folder (no {name}); pass the "
                        "folder dlkit train wrote", command)
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{str(path)!r} is not valid JSON ({e})", command) from None
    if not isinstance(data, dict):
        raise UserError(f"{str(path)!r}: expected a JSON object, got "
                        f"{type(data).__name__}", command)
    missing = [k for k in required if k not in data]
    if missing:
        raise UserError(f"{str(path)!r} lacks {missing}: it was not written by a finished "
                        "dlkit training run (or was edited)", command)
    return data


def write_standardizer(folder: Path, standardizer: Standardizer) -> None:
    state = standardizer.state_dict()
    write_safetensors(folder / PREPROCESS, {k: state[k] for k in ("mu", "sigma")},
                      {"dlkit.kind": "standardizer"}, "dlkit train")


def read_standardizer(folder: Path) -> Standardizer | None:
    path = folder / PREPROCESS
    if not path.exists():
        return None
    tensors, _ = read_safetensors(path, "dlkit")
    return Standardizer().load_state_dict(tensors)


def run_folder(path: str, command: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"run folder {path!r} not found", command)
    return folder


def truncate_history(path: Path, epochs: int) -> None:
    """Keep the rows of history.csv for the epochs the checkpoint holds (a run killed after
    logging an epoch but before checkpointing it logged one row too many)."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [ln for ln in lines[1:] if ln.split(",", 1)[0].strip().isdigit()
                        and int(ln.split(",", 1)[0]) < epochs]
    atomic_write_bytes(path, "".join(kept).encode(), "truncate_history")
