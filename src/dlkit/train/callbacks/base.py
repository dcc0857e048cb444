"""Callback: hooks the training loop calls at the start and end of training, epochs, batches."""

from __future__ import annotations

from typing import Any


class Callback:
    """Override the hooks you need; ``self.trainer`` is set before training starts and has
    ``model``, ``optimizer``, ``history``, ``callbacks``, ``epoch``, ``epochs``, ``step``,
    ``steps_per_epoch`` and ``stop_training`` (set it to stop after this batch or epoch).

    ``fit`` runs callbacks sorted by ``order`` (stable; 0 by default), so a ``ModelCheckpoint``
    (order 100) saves after the others have updated their state for the epoch.
    A callback with state to resume (counters, best values) returns it from ``state_dict()``
    (JSON-able values and NumPy arrays) and takes it back in ``load_state_dict``.
    """

    trainer: Any = None
    order: int = 0

    def on_train_begin(self, logs: dict[str, float]) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None: ...

    def on_batch_begin(self, batch: int, logs: dict[str, float]) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...

    def on_train_end(self, logs: dict[str, float]) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """The state a checkpoint carries (nothing for a stateless callback)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back a ``state_dict()``; the next ``fit`` continues from it."""
