"""LearningRateScheduler: set the optimizer's learning rate each epoch (the notes' learning
rate decay)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dlkit.optim.schedule import Schedule
from dlkit.train.callbacks.base import Callback


class LearningRateScheduler(Callback):
    """``schedule`` is a ``dlkit.optim`` Schedule built on the optimizer being trained (its
    ``step()`` is called at the end of each epoch, so epoch e trains with ``lr_at(e)``), or a
    function ``(epoch, lr) -> lr`` called at the start of each epoch (Keras' convention).
    A Schedule's state travels in this callback's ``state_dict`` (and so in checkpoints)."""

    def __init__(self, schedule: Schedule | Callable[[int, float], float],
                 verbose: bool = False) -> None:
        if not isinstance(schedule, Schedule) and not callable(schedule):
            raise TypeError(f"LearningRateScheduler: expected a dlkit.optim Schedule or a "
                            f"function (epoch, lr) -> lr, got {type(schedule).__name__}")
        self.schedule, self.verbose = schedule, verbose

    def on_train_begin(self, logs: dict[str, float]) -> None:
        if isinstance(self.schedule, Schedule) and self.schedule.optimizer is not \
                self.trainer.optimizer:
            raise ValueError("LearningRateScheduler: the schedule was built on another "
                             "optimizer than the one fit trains with")

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None:
        if isinstance(self.schedule, Schedule):
            return
        optimizer = self.trainer.optimizer
        lr = self.schedule(epoch, optimizer.lr)
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr!r} for epoch "
                             f"{epoch}; expected a finite float >= 0")
        optimizer.lr = float(lr)
        if self.verbose:
            print(f"LearningRateScheduler: epoch {epoch} lr = {optimizer.lr:.6g}")

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if isinstance(self.schedule, Schedule):
            lr = self.schedule.step()
            if self.verbose:
                print(f"LearningRateScheduler: epoch {epoch + 1} lr = {lr:.6g}")

    def state_dict(self) -> dict[str, Any]:
        if isinstance(self.schedule, Schedule):
            return {"schedule": self.schedule.state_dict()}
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if isinstance(self.schedule, Schedule) and state.get("schedule") is not None:
            self.schedule.load_state_dict(state["schedule"])
