"""Metrics computed from model outputs and targets (NumPy arrays)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def predicted_classes(outputs: np.ndarray, output: str) -> np.ndarray:
    """Class predictions: argmax over the last axis when it has several classes; otherwise a
    threshold at 0 for logits and 0.5 for probabilities."""
    if outputs.ndim >= 2 and outputs.shape[-1] > 1:
        return outputs.argmax(axis=-1)
    threshold = 0.0 if output == "logits" else 0.5
    return (outputs > threshold).astype(np.int64).reshape(outputs.shape)


def true_classes(targets: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Integer labels from targets: one-hot rows become their argmax."""
    if targets.shape == outputs.shape and outputs.ndim >= 2 and outputs.shape[-1] > 1:
        return targets.argmax(axis=-1)
    return targets.astype(np.int64)


def accuracy(outputs: np.ndarray, targets: np.ndarray, output: str = "logits") -> float:
    """Fraction of examples whose predicted class equals the label."""
    pred = predicted_classes(outputs, output)
    true = true_classes(targets, outputs)
    return float((pred.reshape(true.shape) == true).mean())


METRICS: dict[str, Callable[..., float]] = {"accuracy": accuracy}


def get_metric(name: str) -> Callable[..., float]:
    if name not in METRICS:
        raise ValueError(f"metric: unknown metric {name!r}; expected one of {sorted(METRICS)}")
    return METRICS[name]
