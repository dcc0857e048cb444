"""Metrics computed from model outputs and targets (NumPy arrays).

Binary outputs have one column (or none): logits are thresholded at 0, probabilities at 0.5,
and precision / recall / F1 are those of the positive class 1. Multiclass outputs have one
column per class (argmax), and precision / recall / F1 are macro averages: the unweighted mean
over the classes that occur in the targets or the predictions (scikit-learn's ``average="macro"``).
A 0/0 (no predicted or no true positives) counts as 0.0, without a warning.
"""

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


def is_multiclass(outputs: np.ndarray) -> bool:
    """One output column per class (softmax / cross-entropy), rather than one binary column."""
    return outputs.ndim >= 2 and outputs.shape[-1] > 1


def _labels(name: str, outputs: np.ndarray, targets: np.ndarray,
            output: str) -> tuple[np.ndarray, np.ndarray]:
    outputs, targets = np.asarray(outputs), np.asarray(targets)
    pred = predicted_classes(outputs, output)
    true = true_classes(targets, outputs)
    if pred.size != true.size:
        raise ValueError(f"{name}: outputs of shape {outputs.shape} give {pred.size} predictions, "
                         f"targets of shape {targets.shape} give {true.size} labels")
    pred, true = pred.reshape(-1), true.reshape(-1)
    if pred.size and min(pred.min(), true.min()) < 0:
        raise ValueError(f"{name}: expected non-negative integer class labels, got a minimum "
                         f"of {min(pred.min(), true.min())}")
    return pred, true


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0/0 = 0 (no warning)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _class_counts(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per class k: true positives, predicted k, labelled k, and which classes occur."""
    n = int(max(pred.max(), true.max())) + 1 if pred.size else 1
    tp = np.bincount(true[pred == true], minlength=n)
    n_pred = np.bincount(pred, minlength=n)
    n_true = np.bincount(true, minlength=n)
    return tp, n_pred, n_true, (n_pred + n_true) > 0


def _score(name: str, outputs: np.ndarray, targets: np.ndarray, output: str,
           average: str) -> float:
    if average not in ("auto", "binary", "macro"):
        raise ValueError(f"{name}: expected average 'auto', 'binary' or 'macro', got {average!r}")
    pred, true = _labels(name, outputs, targets, output)
    if pred.size == 0:
        return 0.0
    multiclass = is_multiclass(np.asarray(outputs))
    if average == "binary" and multiclass:
        raise ValueError(f"{name}: average='binary' needs one output column, got outputs of "
                         f"shape {np.shape(outputs)} (use 'macro')")
    if not multiclass and (pred.max() > 1 or true.max() > 1):
        raise ValueError(f"{name}: binary outputs need labels in {{0, 1}}, got labels up to "
                         f"{int(true.max())}")
    tp, n_pred, n_true, present = _class_counts(pred, true)
    if not multiclass and average != "macro":
        tp, n_pred, n_true = (np.pad(a, (0, 2 - len(a)))[1:] for a in (tp, n_pred, n_true))
        present = np.ones(1, bool)
    if name == "precision":
        per_class = _safe_ratio(tp, n_pred)
    elif name == "recall":
        per_class = _safe_ratio(tp, n_true)
    else:  # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (predicted + true), the harmonic mean of P, R
        per_class = _safe_ratio(2 * tp, n_pred + n_true)
    return float(per_class[present].mean())


def accuracy(outputs: np.ndarray, targets: np.ndarray, output: str = "logits") -> float:
    """Fraction of examples whose predicted class equals the label."""
    pred = predicted_classes(outputs, output)
    true = true_classes(targets, outputs)
    return float((pred.reshape(true.shape) == true).mean())


def precision(outputs: np.ndarray, targets: np.ndarray, output: str = "logits",
              average: str = "auto") -> float:
    """TP / (TP + FP): of the examples predicted positive, the fraction that are.

    ``average``: "auto" (positive class for binary outputs, macro for multiclass), "binary"
    or "macro" (mean over the classes present, also for binary outputs)."""
    return _score("precision", outputs, targets, output, average)


def recall(outputs: np.ndarray, targets: np.ndarray, output: str = "logits",
           average: str = "auto") -> float:
    """TP / (TP + FN): of the positive examples, the fraction found. ``average`` as precision."""
    return _score("recall", outputs, targets, output, average)


def f1(outputs: np.ndarray, targets: np.ndarray, output: str = "logits",
       average: str = "auto") -> float:
    """F1 = 2 P R / (P + R), the harmonic mean of precision and recall (the notes' single
    number evaluation metric); macro F1 averages the per-class F1 scores."""
    return _score("f1", outputs, targets, output, average)


METRICS: dict[str, Callable[..., float]] = {
    "accuracy": accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "f1_score": f1,
}


def get_metric(name: str) -> Callable[..., float]:
    """A metric ``(outputs, targets, output) -> float`` by name."""
    if name not in METRICS:
        raise ValueError(f"metric: unknown metric {name!r}; expected one of {sorted(METRICS)}")
    return METRICS[name]
