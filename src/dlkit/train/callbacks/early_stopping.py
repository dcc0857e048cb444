"""EarlyStopping: stop when a monitored value has stopped improving (the notes' early
stopping, a regularizer: keep the weights of the best dev-set epoch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.train.callbacks.base import Callback
from dlkit.train.callbacks.monitor import Monitor


class EarlyStopping(Callback):
    """Stops training after ``patience`` epochs without an improvement of ``monitor`` by more
    than ``min_delta``. ``mode`` "auto" minimizes names ending in "loss" and maximizes others.

    With ``restore_best_weights`` the model ends training with the weights (and buffers) of
    its best epoch, whether it stopped early or ran all its epochs.
    State (``state_dict``): best value, epochs waited, best and stopped epoch, best weights.
    A restored state is continued by the next ``fit``; otherwise each ``fit`` starts afresh.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False,
                 verbose: bool = False) -> None:
        if int(patience) != patience or patience < 0:
            raise ValueError(f"EarlyStopping: expected an int patience >= 0, got {patience!r}")
        self.monitor = Monitor("EarlyStopping", monitor, mode, min_delta)
        self.patience, self.restore_best_weights, self.verbose = int(patience), \
            restore_best_weights, verbose
        self._restored = False
        self.reset()

    def reset(self) -> None:
        self.monitor.reset()
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_weights: dict[str, np.ndarray] | None = None

    @property
    def best(self) -> float:
        return self.monitor.best

    def on_train_begin(self, logs: dict[str, float]) -> None:
        if not self._restored:
            self.reset()
        self._restored = False

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        value = self.monitor.value(logs)
        if self.monitor.improved(value):
            self.monitor.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            if self.verbose:
                print(f"EarlyStopping: {self.monitor.key} has not improved for {self.wait} "
                      f"epochs; stopping after epoch {epoch} (best {self.best:.6g} at epoch "
                      f"{self.best_epoch})")

    def on_train_end(self, logs: dict[str, float]) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.best = float(state["best"])
        self.wait = int(state["wait"])
        self.best_epoch, self.stopped_epoch = state["best_epoch"], state["stopped_epoch"]
        weights = state.get("best_weights")
        self.best_weights = {k: np.array(v) for k, v in weights.items()} if weights else None
        self._restored = True
