"""Pruning from inside ``fit``: report each epoch's dev metric to the Optuna trial, and stop
a trial that is doing worse than the others did at the same epoch."""

from __future__ import annotations

import math
from typing import Any

from dlkit.train.callbacks.base import Callback
from dlkit.train.callbacks.monitor import Monitor


class PruningCallback(Callback):
    """``trial.report(logs[monitor], epoch)`` after every epoch; when the study's pruner
    says ``should_prune``, training stops and, once every callback has finished its
    ``on_train_end``, ``optuna.TrialPruned`` is raised out of ``fit`` (Optuna records the
    trial as pruned). ``pruned`` and ``pruned_epoch`` tell what happened."""

    order = 1000  # last: the other callbacks close their files before the trial is pruned

    def __init__(self, trial: Any, monitor: str = "val_loss") -> None:
        self.trial = trial
        self.monitor = Monitor("PruningCallback", monitor)
        self.pruned = False
        self.pruned_epoch: int | None = None
        self.value = math.nan

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self.pruned, self.pruned_epoch = False, None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.value = self.monitor.value(logs)
        self.trial.report(self.value, epoch)
        if self.trial.should_prune():
            self.pruned, self.pruned_epoch = True, epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: dict[str, float]) -> None:
        if self.pruned:
            from dlkit.tune.search import optuna_module

            raise optuna_module().TrialPruned(
                f"pruned after epoch {self.pruned_epoch}: {self.monitor.key} = {self.value:.6g}")


__all__ = ["PruningCallback"]
