"""Trainer: the state of a running fit, as callbacks see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlkit.nn.module import Module
from dlkit.optim.optimizer import Optimizer
from dlkit.train.history import History


@dataclass
class Trainer:
    """``epoch`` is the current epoch (from 0), ``epochs`` the epoch fit stops before,
    ``step`` the batches trained so far (counting the epochs before ``initial_epoch``).
    Set ``stop_training`` to stop after the current batch; ``epoch_completed`` is False
    in ``on_epoch_end`` when the epoch was cut short."""

    model: Module
    optimizer: Optimizer
    history: History
    callbacks: list[Any] = field(default_factory=list)
    epochs: int = 0
    initial_epoch: int = 0
    steps_per_epoch: int = 0
    epoch: int = 0
    step: int = 0
    stop_training: bool = False
    epoch_completed: bool = True
