"""TerminateOnNaN: stop as soon as a batch loss is NaN or infinite (diverging training)."""

from __future__ import annotations

import math

from dlkit.errors import UserError
from dlkit.train.callbacks.base import Callback


class DivergenceError(UserError):
    """Training diverged: a batch's loss was NaN or infinite."""


class TerminateOnNaN(Callback):
    """Stops training after the first batch whose loss is NaN or +-inf, and says which one
    (``stopped_at`` = (epoch, batch)). A learning rate too large is the usual cause, or
    non-finite values in the data. With ``raise_error`` it raises ``DivergenceError`` (one
    line naming the epoch, the batch and the likely cause) instead of stopping quietly, so a
    command exits non-zero; the checkpoint of the last completed epoch stays as it was."""

    order = -50  # before the other callbacks see the batch

    def __init__(self, raise_error: bool = False, lr_option: str = "the learning rate",
                 print_fn=print) -> None:
        self.raise_error, self.lr_option, self.print_fn = raise_error, lr_option, print_fn
        self.stopped_at: tuple[int, int] | None = None

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self.stopped_at = None

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        loss = logs.get("loss")
        if loss is None or math.isfinite(loss):
            return
        epoch = self.trainer.epoch
        self.stopped_at = (epoch, batch)
        self.trainer.stop_training = True
        lr = getattr(self.trainer.optimizer, "lr", None)
        message = (f"the loss became {loss} at epoch {epoch + 1}, batch {batch + 1}: training "
                   f"diverged; the likely cause is {self.lr_option}"
                   + (f" ({lr:g})" if isinstance(lr, float) else "")
                   + " being too large (or non-finite values in the data)")
        if self.raise_error:
            raise DivergenceError(message)
        self.print_fn(f"TerminateOnNaN: {message}; stopping training")
