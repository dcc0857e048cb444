"""TerminateOnNaN: stop as soon as a batch loss is NaN or infinite (diverging training)."""

from __future__ import annotations

import math

from dlkit.train.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Stops training after the first batch whose loss is NaN or +-inf, and prints which one
    (``stopped_at`` = (epoch, batch)). A learning rate too large is the usual cause."""

    def __init__(self) -> None:
        self.stopped_at: tuple[int, int] | None = None

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self.stopped_at = None

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            epoch = self.trainer.epoch
            self.stopped_at = (epoch, batch)
            self.trainer.stop_training = True
            print(f"TerminateOnNaN: the loss of batch {batch} in epoch {epoch} is {loss}; "
                  "stopping training (learning rate too large?)")
