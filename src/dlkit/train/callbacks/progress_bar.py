"""ProgressBar: a tqdm bar per epoch with the running loss, then the epoch's logs."""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm import tqdm

from dlkit.train.callbacks.base import Callback


def _is_terminal(file: Any) -> bool:
    isatty = getattr(file, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


class ProgressBar(Callback):
    """One bar per epoch on ``file`` (stdout by default): batches done, the running mean loss,
    and at the epoch's end its loss, metrics and validation values.

    ``disable=None`` (default) switches the bar off when ``file`` is not a terminal (logs,
    pipes, CI); ``False`` forces it on, ``True`` off. ``fit(..., verbose=1)`` adds one.
    """

    order = -100  # closes the epoch's bar before other callbacks print

    def __init__(self, file: IO[str] | None = None, disable: bool | None = None,
                 leave: bool = True) -> None:
        self.file, self.disable, self.leave = file, disable, leave
        self._bar: Any = None
        self._off = True
        self._sum, self._count = 0.0, 0

    def on_train_begin(self, logs: dict[str, float]) -> None:
        file = self.file or sys.stdout
        self._off = (not _is_terminal(file)) if self.disable is None else bool(self.disable)

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None:
        self._close()
        self._sum, self._count = 0.0, 0
        if self._off:
            return
        trainer = self.trainer
        self._bar = tqdm(total=trainer.steps_per_epoch, desc=f"epoch {epoch + 1}/{trainer.epochs}",
                         file=self.file or sys.stdout, leave=self.leave, unit="batch")

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        if self._bar is None:
            return
        self._sum += logs["loss"]
        self._count += 1
        self._bar.update(1)
        self._bar.set_postfix(loss=f"{self._sum / self._count:.4f}", refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=True)
        self._close()

    def on_train_end(self, logs: dict[str, float]) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
