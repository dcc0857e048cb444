"""Learning-rate schedules of the notes, set on the optimizer once per epoch.

``epoch`` counts from 0 (the first epoch trains with the initial rate). Call ``step()`` at the
end of each epoch, as PyTorch's schedulers; ``lr_at(epoch)`` gives the formula's value.
"""

from __future__ import annotations

import math
from typing import Any

from dlkit.optim.optimizer import Optimizer


class Schedule:
    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.lr0 = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> float:
        """Advance one epoch; sets and returns the optimizer's new learning rate."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "epoch": self.epoch, "lr0": self.lr0}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.lr0 = int(state["epoch"]), float(state["lr0"])
        self.optimizer.lr = self.lr_at(self.epoch)


class InverseTimeDecay(Schedule):
    """lr = lr0 / (1 + decay_rate * epoch); with ``staircase``, epoch is replaced by
    floor(epoch / time_interval) (the notes' fixed-interval scheduling)."""

    def __init__(self, optimizer: Optimizer, decay_rate: float = 1.0, time_interval: int = 1,
                 staircase: bool = False) -> None:
        super().__init__(optimizer)
        self.decay_rate, self.time_interval, self.staircase = decay_rate, time_interval, staircase

    def lr_at(self, epoch: int) -> float:
        t = epoch // self.time_interval if self.staircase else epoch / self.time_interval
        return self.lr0 / (1 + self.decay_rate * t)


class ExponentialDecay(Schedule):
    """lr = base^epoch * lr0 (the notes use base 0.95)."""

    def __init__(self, optimizer: Optimizer, base: float = 0.95) -> None:
        super().__init__(optimizer)
        self.base = base

    def lr_at(self, epoch: int) -> float:
        return self.base**epoch * self.lr0


class InverseSqrtDecay(Schedule):
    """lr = k / sqrt(epoch_num) * lr0, with epoch_num = epoch + 1 counted from 1 as the notes."""

    def __init__(self, optimizer: Optimizer, k: float = 1.0) -> None:
        super().__init__(optimizer)
        self.k = k

    def lr_at(self, epoch: int) -> float:
        return self.k / math.sqrt(epoch + 1) * self.lr0


class StepDecay(Schedule):
    """lr = lr0 * drop^floor(epoch / every) (the notes' discrete staircase)."""

    def __init__(self, optimizer: Optimizer, drop: float = 0.5, every: int = 10) -> None:
        super().__init__(optimizer)
        self.drop, self.every = drop, every

    def lr_at(self, epoch: int) -> float:
        return self.lr0 * self.drop ** (epoch // self.every)
