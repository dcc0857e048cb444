"""Watching one logged value for improvement (early stopping, best checkpoints)."""

from __future__ import annotations

import math
from typing import Any

from dlkit.metrics import direction


class Monitor:
    """Tracks the best value of ``logs[key]``. ``mode``: "min", "max", or "auto" (the
    metric's own direction, ``dlkit.metrics.direction``: "val_loss" and "val_error" go down,
    "val_accuracy" up). An improvement beats the best by more than ``min_delta``; NaN never
    improves."""

    def __init__(self, owner: str, key: str, mode: str = "auto", min_delta: float = 0.0) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: expected mode 'auto', 'min' or 'max', got {mode!r}")
        if min_delta < 0:
            raise ValueError(f"{owner}: expected min_delta >= 0, got {min_delta}")
        self.owner, self.key, self.min_delta = owner, key, float(min_delta)
        self.mode = direction(key, owner) if mode == "auto" else mode
        self.best = self.worst

    @property
    def worst(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    def reset(self) -> None:
        self.best = self.worst

    def value(self, logs: dict[str, Any]) -> float:
        """``logs[key]``, or an error that lists the keys there are."""
        if self.key not in logs:
            hint = " (pass validation_data to fit for val_* keys)" if self.key.startswith(
                "val_") else ""
            raise KeyError(f"{self.owner}: monitored key {self.key!r} is not in the logs; "
                           f"available keys: {sorted(logs)}{hint}")
        return float(logs[self.key])

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta
