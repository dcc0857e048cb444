"""Experiment logs: a ``fit`` callback that records each epoch's metrics (CSV and JSON lines),
the hyperparameters and the final result in a run folder, and, with tensorboardX (the
``logging`` extra), TensorBoard event files; and the reading side: a run folder's metrics as
one flat record, runs listed as a table sorted by a metric, their curves in one picture.

A run folder written by ``ExperimentLogger``::

    hparams.json    {"hparams": {...}, "optimizer": {...}, "model": {...}, "started": ...}
    history.csv     epoch and every logged value, one row per epoch (``History.from_csv``)
    history.jsonl   the same, one JSON object per line, written as training goes
    result.json     {"metrics": {"train_loss", "dev_accuracy", ...}, "final": logs,
                     "best": {key: {"value", "epoch"}}, "epochs", "seconds", "stopped_early"}
    tensorboard/    event files (train/ and validation/, as Keras), with tensorboard=True

``dlkit train`` folders (config.json, metrics.json, history.csv) read the same way.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dlkit.io.files import atomic_write_bytes
from dlkit.metrics import lower_is_better
from dlkit.train.callbacks.base import Callback
from dlkit.train.callbacks.csv_logger import CSVLogger
from dlkit.train.history import History

HPARAMS, RESULT, HISTORY_CSV, HISTORY_JSONL, TENSORBOARD = (
    "hparams.json", "result.json", "history.csv", "history.jsonl", "tensorboard")


def flat_metrics(logs: Mapping[str, Any]) -> dict[str, float]:
    """fit's logs under run names: ``loss`` -> ``train_loss``, ``val_accuracy`` ->
    ``dev_accuracy``; ``lr`` stays."""
    out = {}
    for k, v in logs.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if k.startswith("val_"):
            out["dev_" + k[4:]] = float(v)
        elif k == "lr":
            out[k] = float(v)
        else:
            out["train_" + k] = float(v)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "item") and getattr(value, "size", 2) == 1:  # NumPy scalars
        return _jsonable(value.item())
    return str(value)


def _write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(_jsonable(data), indent=2) + "\n").encode(),
                       "ExperimentLogger")


class TensorBoard(Callback):
    """TensorBoard event files through tensorboardX (no TensorFlow, no PyTorch): per epoch
    each logged value as ``epoch_<name>``, training values under ``log_dir/train`` and dev
    (``val_*``) values under ``log_dir/validation``, so both curves share one chart (as
    Keras); with ``update_freq="batch"`` also ``batch_loss``. At the end the hyperparameters
    go to the HParams dashboard with the final values. View with
    ``tensorboard --logdir log_dir``."""

    def __init__(self, log_dir: str | os.PathLike, hparams: Mapping[str, Any] | None = None,
                 update_freq: str = "epoch") -> None:
        if update_freq not in ("epoch", "batch"):
            raise ValueError(f"TensorBoard: expected update_freq 'epoch' or 'batch', got "
                             f"{update_freq!r}")
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ImportError('TensorBoard logging needs tensorboardX: pip install '
                              '"dlkit[logging]"') from e
        self._writer_cls = SummaryWriter
        self.log_dir, self.hparams = Path(log_dir), dict(hparams or {})
        self.update_freq = update_freq
        self._writers: dict[str, Any] = {}

    def _writer(self, kind: str) -> Any:
        if kind not in self._writers:
            self._writers[kind] = self._writer_cls(str(self.log_dir / kind))
        return self._writers[kind]

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self._writers = {}

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        if self.update_freq == "batch" and "loss" in logs:
            self._writer("train").add_scalar("batch_loss", logs["loss"], self.trainer.step)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            kind, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self._writer(kind).add_scalar(f"epoch_{name}", float(value), epoch)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs: dict[str, float]) -> None:
        if self.hparams:
            hp = {k: v if isinstance(v, (int, float, str, bool)) else str(v)
                  for k, v in self.hparams.items()}
            final = {f"hparam/{k}": v for k, v in flat_metrics(logs).items()}
            self._writer("train").add_hparams(hp, final, name="hparams")
        for w in self._writers.values():
            w.close()
        self._writers = {}


class ExperimentLogger(Callback):
    """Logs a ``fit`` to ``folder``: ``hparams.json`` at the start (the ``hparams`` given,
    the optimizer's hyperparameters, the model's class and parameter count), ``history.csv``
    and ``history.jsonl`` each epoch (flushed, so a crash keeps what was done), and
    ``result.json`` at the end (final and best values, epochs, seconds). With
    ``tensorboard=True`` it also writes TensorBoard event files to ``folder/tensorboard``
    (needs tensorboardX). ``append=True`` continues the logs of a resumed run.

    ``dlkit runs FOLDER`` lists such folders; ``dlkit compare`` draws their curves."""

    order = 50

    def __init__(self, folder: str | os.PathLike, hparams: Mapping[str, Any] | None = None,
                 tensorboard: bool = False, append: bool = False) -> None:
        self.folder, self.hparams, self.append = Path(folder), dict(hparams or {}), append
        self._csv = CSVLogger(self.folder / HISTORY_CSV, append=append)
        self._tb = TensorBoard(self.folder / TENSORBOARD, self.hparams) if tensorboard else None
        self._jsonl: IO[str] | None = None
        self._best: dict[str, dict[str, float]] = {}
        self._start = 0.0

    def _children(self) -> list[Callback]:
        return [c for c in (self._csv, self._tb) if c is not None]

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._start, self._best = time.perf_counter(), {}
        trainer = self.trainer
        opt = trainer.optimizer
        optimizer = {"name": type(opt).__name__,
                     **{k: getattr(opt, k) for k in getattr(opt, "hyperparameters", ("lr",))
                        if hasattr(opt, k)}}
        model = {"name": type(trainer.model).__name__}
        if hasattr(trainer.model, "num_parameters"):
            model["parameters"] = int(trainer.model.num_parameters())
        _write_json(self.folder / HPARAMS, {
            "hparams": self.hparams, "optimizer": optimizer, "model": model,
            "epochs": trainer.epochs, "initial_epoch": trainer.initial_epoch,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
        self._jsonl = open(self.folder / HISTORY_JSONL, "a" if self.append else "w")
        for c in self._children():
            c.trainer = trainer
            c.on_train_begin(logs)

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        if self._tb is not None:
            self._tb.on_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._jsonl is None:
            raise RuntimeError("ExperimentLogger: on_epoch_end before on_train_begin (is it "
                               "passed to fit's callbacks?)")
        seconds = time.perf_counter() - self._start
        self._jsonl.write(json.dumps(_jsonable({"epoch": epoch, **logs,
                                                "seconds": round(seconds, 4)})) + "\n")
        self._jsonl.flush()
        for key, value in logs.items():
            value = float(value)
            if key == "lr" or math.isnan(value):
                continue
            best = self._best.get(key)
            try:
                lower = lower_is_better(key)
            except ValueError:  # a value of unknown direction has no "best"
                continue
            if best is None or (value < best["value"] if lower else value > best["value"]):
                self._best[key] = {"value": value, "epoch": epoch}
        for c in self._children():
            c.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict[str, float]) -> None:
        for c in self._children():
            c.on_train_end(logs)
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
        trainer = self.trainer
        _write_json(self.folder / RESULT, {
            "metrics": flat_metrics(logs), "final": dict(logs), "best": self._best,
            "epochs": len(trainer.history), "seconds": round(time.perf_counter() - self._start,
                                                             3),
            "stopped_early": bool(trainer.stop_training)})


# -- reading runs back ------------------------------------------------------------------------

@dataclass
class RunRecord:
    """One run folder: its ``name`` (folder name), ``hparams`` (``dlkit train`` options or
    the logger's hparams), ``metrics`` flat (``train_loss``, ``dev_accuracy``, ``test_f1``,
    ``epochs``, ``seconds`` ...)."""

    name: str
    path: Path
    hparams: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    status: str = "complete"  # "running" (or killed), "failed" (diverged), "complete"

    def history(self) -> History | None:
        """The per-epoch history (history.csv), or None when the run has none."""
        path = self.path / HISTORY_CSV
        return History.from_csv(path) if path.is_file() else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{str(path)!r} is not valid JSON ({e})") from None


def is_run(folder: str | os.PathLike) -> bool:
    folder = Path(folder)
    return folder.is_dir() and any((folder / n).is_file() for n in
                                   ("metrics.json", RESULT, HISTORY_CSV, "config.json"))


def read_run(folder: str | os.PathLike) -> RunRecord:
    """A run folder's hyperparameters and final metrics as one flat record."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"run folder {str(folder)!r} not found")
    record = RunRecord(folder.name, folder)
    found = False
    if (folder / "config.json").is_file():
        config = _read_json(folder / "config.json")
        if not isinstance(config, dict) or not isinstance(config.get("options", {}), dict):
            raise ValueError(f"{str(folder / 'config.json')!r} is not a run's config (expected "
                             "an object with an 'options' object)")
        record.hparams.update(config.get("options", {}))
        record.status = str(config.get("status", "complete"))
    if (folder / HPARAMS).is_file():
        data = _read_json(folder / HPARAMS)
        record.hparams.update(data.get("hparams", {}) if isinstance(data, dict) else {})
    if (folder / "metrics.json").is_file():
        found = True
        for key, value in _read_json(folder / "metrics.json").items():
            if isinstance(value, dict):
                record.metrics.update({f"{key}_{k}": float(v) for k, v in value.items()
                                       if isinstance(v, (int, float))})
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                record.metrics[key] = float(value)
    if (folder / RESULT).is_file():
        found = True
        result = _read_json(folder / RESULT)
        for key, value in result.get("metrics", {}).items():
            record.metrics.setdefault(key, float(value))
        for key in ("epochs", "seconds"):
            if key in result:
                record.metrics.setdefault(key, float(result[key]))
    if not found and (folder / HISTORY_CSV).is_file():
        history = History.from_csv(folder / HISTORY_CSV)
        if len(history):
            found = True
            record.metrics.update(flat_metrics({k: v[-1] for k, v in history.history.items()}))
            record.metrics["epochs"] = float(len(history))
    if not found:
        raise FileNotFoundError(f"{str(folder)!r} is not a dlkit run folder (no metrics.json, "
                                f"{RESULT} or {HISTORY_CSV})")
    return record


def list_runs(folder: str | os.PathLike, errors: list[str] | None = None) -> list[RunRecord]:
    """The runs in ``folder``: each sub-folder that is a run (searched two levels deep, so
    a tuning folder's trial-*/ folders count), or the folder itself if it is one. With an
    ``errors`` list, a run that cannot be read is skipped and described there."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} not found")
    found = []
    for child in sorted(folder.iterdir()):
        if is_run(child):
            found.append(child)
        elif child.is_dir():
            found.extend(c for c in sorted(child.iterdir()) if is_run(c))
    if not found and is_run(folder):
        found = [folder]
    runs = []
    for path in found:
        try:
            record = read_run(path)
        except ValueError as e:  # one broken run does not hide the others
            if errors is None:
                raise
            errors.append(f"{path}: {e}")
            continue
        record.name = str(path.relative_to(folder)) if path != folder else path.name
        runs.append(record)
    return runs


def sort_runs(runs: Sequence[RunRecord], metric: str, mode: str = "auto") -> list[RunRecord]:
    """Best first by ``metric`` (smaller first for losses, errors and times; runs without it
    last). A metric no run has is a ValueError that lists those they have."""
    if runs and not any(metric in r.metrics for r in runs):
        have = sorted({k for r in runs for k in r.metrics})
        raise ValueError(f"unknown metric {metric!r}; the runs have {have}")
    lower = lower_is_better(metric) if mode == "auto" else mode == "min"

    def key(r: RunRecord) -> tuple[int, float]:
        v = r.metrics.get(metric, math.nan)
        if math.isnan(v):
            return (1, 0.0)
        return (0, v if lower else -v)

    return sorted(runs, key=key)


_NOT_HPARAMS = {"out", "progress", "trial"}


def runs_table(runs: Sequence[RunRecord], sort: str | None = None,
               columns: Sequence[str] | None = None, max_hparams: int = 6) -> str:
    """A plain-text table: one row per run; the sort metric first, then the dev / test /
    train accuracy and loss (or ``columns``), then the hyperparameters that differ."""
    runs = sort_runs(runs, sort) if sort else list(runs)
    if columns is None:
        preferred = ["dev_accuracy", "dev_loss", "train_accuracy", "train_loss",
                     "test_accuracy", "epochs"]
        columns = [c for c in preferred if any(c in r.metrics for r in runs)]
        if sort:
            columns = [sort] + [c for c in columns if c != sort]
    varying = []
    for key in sorted({k for r in runs for k in r.hparams} - _NOT_HPARAMS):
        values = {json.dumps(_jsonable(r.hparams.get(key)), sort_keys=True) for r in runs}
        if len(values) > 1:
            varying.append(key)
    varying = varying[:max_hparams]
    show_status = any(r.status != "complete" for r in runs)
    header = ["run", *(["status"] if show_status else []), *columns, *varying]
    rows = [header]
    for r in runs:
        cells = [r.name, *([r.status] if show_status else [])]
        for c in columns:
            v = r.metrics.get(c)
            cells.append("-" if v is None else (f"{v:g}" if c in ("epochs",) else f"{v:.4f}"))
        for k in varying:
            v = r.hparams.get(k)
            cells.append("-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v)))
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in rows]
    return "\n".join(lines)


def plot_runs(runs: Sequence[RunRecord], path: str | os.PathLike,
              metrics: Sequence[str] = ("loss", "accuracy"), title: str = "") -> Path:
    """The learning curves of several runs in one picture: a panel per metric, a colour per
    run, training solid and dev dashed."""
    from dlkit.plot import _pyplot, _save

    histories = [(r, r.history()) for r in runs]
    missing = [r.name for r, h in histories if h is None]
    if missing:
        raise FileNotFoundError(f"no {HISTORY_CSV} in run(s) {missing}")
    shown = [m for m in metrics if any(m in h or f"val_{m}" in h for _, h in histories)]
    if not shown:
        have = sorted({k for _, h in histories for k in h.keys()})
        raise ValueError(f"unknown metric(s) {list(metrics)}; the runs log {have}")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(shown), figsize=(5.2 * len(shown), 3.8), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for ax, name in zip(axes[0], shown):
        for i, (run, h) in enumerate(histories):
            color = colors[i % len(colors)]
            epochs = [e + 1 for e in h.epochs]
            if name in h:
                ax.plot(epochs, h[name], "-", color=color, label=f"{run.name} train")
            if f"val_{name}" in h:
                ax.plot(epochs, h[f"val_{name}"], "--", color=color, label=f"{run.name} dev")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path, plt)


__all__ = ["ExperimentLogger", "RunRecord", "TensorBoard", "flat_metrics", "is_run",
           "list_runs", "plot_runs", "read_run", "runs_table", "sort_runs"]
