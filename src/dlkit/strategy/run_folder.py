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


def new_run_folder(out: str | None, name: str) -> Path:
    """``out`` as given, or ``runs/<name>-<date>-<time>`` (a fresh folder)."""
    if out is not None:
        folder = Path(out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = Path("runs") / f"{name}-{stamp}"
        k = 1
        while folder.exists():
            k += 1
            folder = Path("runs") / f"{name}-{stamp}-{k}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode(), "dlkit")


def read_json(folder: Path, name: str, command: str) -> dict[str, Any]:
    path = folder / name
    if not path.exists():
        raise UserError(f"{str(folder)!r} is not a dlkit run folder (no {name}); pass the "
                        "folder dlkit train wrote", command)
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise UserError(f"{str(path)!r} is not valid JSON ({e})", command) from None


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
