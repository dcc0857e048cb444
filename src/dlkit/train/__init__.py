"""Training: the loop (``fit`` / ``evaluate`` / ``predict`` with one extension point, the
``Step``), its callbacks and the history. Nothing else lives here: metrics are in
``dlkit.metrics``, the course 3 tools in ``dlkit.strategy``, losses by name, the L2 penalty and
transfer learning in ``dlkit.nn``. Their old names under ``dlkit.train`` still resolve (see
CHANGELOG.md)."""

from __future__ import annotations

import importlib
from typing import Any

from dlkit.train.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
)
from dlkit.train.history import History
from dlkit.train.loop import Trainer, batches, evaluate, fit, predict
from dlkit.train.step import Step, StepOutput, SupervisedStep

__all__ = [
    "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History",
    "LearningRateScheduler", "ModelCheckpoint", "ProgressBar", "Step", "StepOutput",
    "SupervisedStep", "TerminateOnNaN", "Trainer", "batches", "evaluate", "fit", "predict",
]

# names that moved out of dlkit.train (0.2): where each lives now
MOVED = {
    **dict.fromkeys(("METRICS", "accuracy", "f1", "get_metric", "precision", "recall"),
                    "dlkit.metrics"),
    **dict.fromkeys(("LOSSES", "get_loss", "l2_penalty", "FeatureCache", "freeze_backbone",
                     "parameterised_layers", "replace_head", "split_head",
                     "trainable_parameters", "unfreeze_last"), "dlkit.nn"),
    **dict.fromkeys(("diagnose_errors", "diagnose_run", "learning_curve",
                     "plot_learning_curve", "ErrorTable", "misclassified", "plot_worst",
                     "ExperimentLogger", "TensorBoard", "choose", "single_number"),
                    "dlkit.strategy"),
}


def __getattr__(name: str) -> Any:
    """The moved names, from their new homes (``dl.train.choose`` is ``dl.strategy.choose``)."""
    if name in MOVED:
        return getattr(importlib.import_module(MOVED[name]), name)
    raise AttributeError(f"module 'dlkit.train' has no attribute {name!r}")
