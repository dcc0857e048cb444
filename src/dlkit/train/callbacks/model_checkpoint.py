"""ModelCheckpoint: write a full training checkpoint every epoch, or when the monitored value
improves."""

from __future__ import annotations

import os
from typing import Any

from dlkit.io.checkpoint import save_checkpoint
from dlkit.train.callbacks.base import Callback
from dlkit.train.callbacks.monitor import Monitor


class ModelCheckpoint(Callback):
    """Saves ``dlkit.io.save_checkpoint`` (model, optimizer, every callback's state, epoch,
    step, RNG state) to ``path`` at the end of each completed epoch (every ``every`` epochs,
    and after the last); with ``save_best_only`` only when ``monitor`` improves. ``path`` may
    hold format fields: ``{epoch}`` (epochs completed, counted from 1) and logged values,
    e.g. ``"ckpt-{epoch:03d}-{val_loss:.3f}.st"``.

    It runs after the other callbacks (``order = 100``), so the checkpoint holds their state at
    the end of the epoch. Resume with ``load_checkpoint`` and ``fit(..., initial_epoch=epoch)``.
    """

    order = 100

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss",
                 save_best_only: bool = False, mode: str = "auto", verbose: bool = False,
                 every: int = 1) -> None:
        if int(every) != every or every < 1:
            raise ValueError(f"ModelCheckpoint: expected every >= 1 (epochs), got {every!r}")
        self.path = os.fspath(path)
        self.monitor = Monitor("ModelCheckpoint", monitor, mode)
        self.save_best_only, self.verbose, self.every = save_best_only, verbose, int(every)
        self.last_path: str | None = None
        self._restored = False

    def on_train_begin(self, logs: dict[str, float]) -> None:
        if not self._restored:
            self.monitor.reset()
        self._restored = False

    def filename(self, epoch: int, logs: dict[str, float]) -> str:
        """The path for the checkpoint after ``epoch`` (counted from 0)."""
        if "{" not in self.path:
            return self.path
        try:
            return self.path.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: the path {self.path!r} names {e.args[0]!r}, which "
                           f"is not logged; available: ['epoch', *{sorted(logs)}]") from e

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        trainer = self.trainer
        if not trainer.epoch_completed:  # stopped mid-epoch (e.g. NaN): not resumable
            return
        if self.every > 1 and (epoch + 1) % self.every and not (
                epoch + 1 == trainer.epochs or trainer.stop_training):
            return
        if self.save_best_only or self.monitor.key in logs:
            value = self.monitor.value(logs)
            improved = self.monitor.improved(value)
            if improved:
                self.monitor.best = value
            if self.save_best_only and not improved:
                return
        path = self.filename(epoch, logs)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        save_checkpoint(path, trainer.model, trainer.optimizer, epoch=epoch + 1,
                        step=trainer.step, callbacks=trainer.callbacks,
                        extra={"logs": dict(logs)})
        self.last_path = path
        if self.verbose:
            print(f"ModelCheckpoint: saved epoch {epoch + 1} to {path}")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.monitor.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.best = float(state["best"])
        self._restored = True
