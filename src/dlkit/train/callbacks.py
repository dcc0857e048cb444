"""Callbacks: hooks the training loop calls at the start and end of training and epochs."""

from __future__ import annotations

from typing import Any


class Callback:
    """Override the hooks you need; ``self.trainer`` is set before training starts and has
    ``model``, ``optimizer``, ``history`` and ``stop_training``."""

    trainer: Any = None

    def on_train_begin(self, logs: dict[str, float]) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...

    def on_train_end(self, logs: dict[str, float]) -> None: ...
