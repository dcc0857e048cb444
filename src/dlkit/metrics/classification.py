"""Classification metrics computed from model outputs and targets (NumPy arrays).

Binary outputs have one column (or none): logits are thresholded at 0, probabilities at 0.5,
and precision / recall / F1 are those of the positive class 1. Multiclass outputs have one
column per class (argmax), and precision / recall / F1 are macro averages: the unweighted mean
over the classes that occur in the targets or the predictions (scikit-learn's ``average="macro"``).
A 0/0 (no predicted or no true positives) counts as 0.0, without a warning.

``average`` also takes "micro" (counts pooled over the classes: equals accuracy for one label
per example) and "weighted" (per-class scores weighted by each class's number of labels).
Beyond these: ``confusion_matrix``, ``top_k_accuracy``, ``roc_auc``, ``log_loss`` and
``error`` (1 - accuracy, the notes' error rate).

Multi-label outputs (``output="multilabel"``, the multi-task loss of the notes: one logit per
label, each its own sigmoid) are thresholded at 0 entry by entry; a label that is missing
(the notes' "?", given as NaN or -1) is skipped. Accuracy is then the fraction of labelled
entries predicted right (Keras' binary accuracy); precision / recall / F1 pool the labelled
entries ("auto" = "micro") or average over the label columns ("macro", "weighted").
"""

from __future__ import annotations

import math

import numpy as np

from dlkit.ops.activation import logistic_loss, stable_log_softmax, stable_softmax

MULTILABEL = "multilabel"
_AVERAGES = ("auto", "binary", "macro", "micro", "weighted")


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
    if average not in _AVERAGES:
        raise ValueError(f"{name}: expected average 'auto', 'binary', 'macro', 'micro' or "
                         f"'weighted', got {average!r}")
    if output == MULTILABEL:
        return _multilabel_score(name, outputs, targets, average)
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
    if not multiclass and average in ("auto", "binary"):
        tp, n_pred, n_true = (np.pad(a, (0, 2 - len(a)))[1:] for a in (tp, n_pred, n_true))
        present = np.ones(1, bool)
    return _average(name, tp, n_pred, n_true, present, average)


def _average(name: str, tp: np.ndarray, n_pred: np.ndarray, n_true: np.ndarray,
             present: np.ndarray, average: str) -> float:
    """Per-class scores from counts, averaged over the classes ``present``."""
    tp, n_pred, n_true = tp[present], n_pred[present], n_true[present]
    if average == "micro":
        tp, n_pred, n_true = (np.atleast_1d(a.sum()) for a in (tp, n_pred, n_true))
    if name == "precision":
        per_class = _safe_ratio(tp, n_pred)
    elif name == "recall":
        per_class = _safe_ratio(tp, n_true)
    else:  # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (predicted + true), the harmonic mean of P, R
        per_class = _safe_ratio(2 * tp, n_pred + n_true)
    if not per_class.size:
        return 0.0
    if average == "weighted":
        total = n_true.sum()
        return float((per_class * n_true).sum() / total) if total > 0 else 0.0
    return float(per_class.mean())


def accuracy(outputs: np.ndarray, targets: np.ndarray, output: str = "logits") -> float:
    """Fraction of examples whose predicted class equals the label (multi-label: of labelled
    entries)."""
    if output == MULTILABEL:
        pred, true, mask = _multilabel_entries("accuracy", outputs, targets)
        return float((pred == true)[mask].mean()) if mask.any() else 0.0
    pred = predicted_classes(outputs, output)
    true = true_classes(targets, outputs)
    return float((pred.reshape(true.shape) == true).mean())


def precision(outputs: np.ndarray, targets: np.ndarray, output: str = "logits",
              average: str = "auto") -> float:
    """TP / (TP + FP): of the examples predicted positive, the fraction that are.

    ``average``: "auto" (positive class for binary outputs, macro for multiclass), "binary",
    "macro" (mean over the classes present, also for binary outputs), "micro" (TP, FP, FN
    pooled over the classes) or "weighted" (mean weighted by each class's labels)."""
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


def error(outputs: np.ndarray, targets: np.ndarray, output: str = "logits") -> float:
    """The error rate 1 - accuracy (what the notes compare with human-level error)."""
    return 1.0 - accuracy(outputs, targets, output)


def confusion_matrix(outputs: np.ndarray, targets: np.ndarray, output: str = "logits",
                     n_classes: int | None = None, normalize: str | None = None) -> np.ndarray:
    """C[i, j] = number of examples labelled i and predicted j (rows true, columns predicted,
    as scikit-learn), for classes 0 .. n_classes - 1 (default: the output columns, 2 for one
    binary column). ``normalize``: None (counts), "true" (rows sum to 1: recall on the
    diagonal), "pred" (columns: precision) or "all"."""
    if output == MULTILABEL:
        raise ValueError("confusion_matrix: multi-label outputs have one binary confusion "
                         "matrix per label: pass one column at a time (output='logits')")
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"confusion_matrix: expected normalize None, 'true', 'pred' or 'all', "
                         f"got {normalize!r}")
    outputs = np.asarray(outputs)
    pred, true = _labels("confusion_matrix", outputs, targets, output)
    n = n_classes if n_classes is not None else (outputs.shape[-1] if is_multiclass(outputs)
                                                 else 2)
    top = int(max(pred.max(), true.max())) + 1 if pred.size else 0
    if top > n:
        raise ValueError(f"confusion_matrix: labels go up to {top - 1}, more than the "
                         f"{n} classes (n_classes={n_classes})")
    counts = np.bincount(true * n + pred, minlength=n * n).reshape(n, n)
    if normalize is None:
        return counts
    if normalize == "all":
        return _safe_ratio(counts, np.full(counts.shape, counts.sum()))
    axis = 1 if normalize == "true" else 0
    return _safe_ratio(counts, np.broadcast_to(counts.sum(axis=axis, keepdims=True),
                                               counts.shape))


def top_k_accuracy(outputs: np.ndarray, targets: np.ndarray, output: str = "logits",
                   k: int = 5) -> float:
    """Fraction of examples whose label is among the k highest-scoring classes (ImageNet's
    top-5 accuracy). One binary column: k = 1 is accuracy, k >= 2 is 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k_accuracy: expected an int k >= 1, got {k!r}")
    if output == MULTILABEL:
        raise ValueError("top_k_accuracy: needs one label per example, not multi-label outputs")
    outputs = np.asarray(outputs)
    if not is_multiclass(outputs):
        return accuracy(outputs, targets, output) if k == 1 else 1.0
    pred, true = _labels("top_k_accuracy", outputs, targets, output)
    if not true.size:
        return 0.0
    scores = outputs.reshape(-1, outputs.shape[-1])
    if k >= scores.shape[1]:
        return 1.0
    # the label is in the top k when fewer than k classes score strictly higher
    higher = (scores > scores[np.arange(len(true)), true][:, None]).sum(axis=1)
    return float((higher < k).mean())


def roc_auc(outputs: np.ndarray, targets: np.ndarray, output: str = "logits",
            average: str = "macro") -> float:
    """Area under the ROC curve: the probability that a random positive example scores above
    a random negative one (ties count 1/2), from ranks (Mann-Whitney U).

    Binary: the scores are the logits or probabilities of class 1. Multiclass: one-vs-rest on
    the softmax probabilities, averaged over the classes ("macro") or weighted by each class's
    labels ("weighted"), as scikit-learn's ``multi_class="ovr"``; multi-label: per label
    column, over its labelled entries. A class without positives or negatives is skipped; NaN
    when no class has both."""
    if average not in ("macro", "weighted"):
        raise ValueError(f"roc_auc: expected average 'macro' or 'weighted', got {average!r}")
    outputs = np.asarray(outputs, dtype=np.float64)
    if output == MULTILABEL:
        _, true, mask = _multilabel_entries("roc_auc", outputs, targets)
        scores = outputs.reshape(true.shape)
        columns = [(scores[mask[:, j], j], true[mask[:, j], j]) for j in range(true.shape[1])]
    elif is_multiclass(outputs):
        _, true = _labels("roc_auc", outputs, targets, output)
        scores = outputs.reshape(-1, outputs.shape[-1])
        if output == "logits":
            scores = stable_softmax(scores, axis=1)
        columns = [(scores[:, j], true == j) for j in range(scores.shape[1])]
    else:
        true = _binary_targets("roc_auc", outputs, targets)
        columns = [(outputs.reshape(-1), true > 0.5)]
    aucs, weights = [], []
    for score, positive in columns:
        n_pos = int(positive.sum())
        if 0 < n_pos < len(positive):
            aucs.append(_auc(score, positive))
            weights.append(n_pos)
    if not aucs:
        return math.nan
    if average == "weighted":
        return float(np.average(aucs, weights=weights))
    return float(np.mean(aucs))


def log_loss(outputs: np.ndarray, targets: np.ndarray, output: str = "logits") -> float:
    """Cross-entropy of the labels under the predicted probabilities, averaged over examples:
    binary -mean(y log a + (1 - y) log(1 - a)); multiclass -mean(log a[y]) (or -sum(Y log A)
    for one-hot / soft targets); multi-label: over the labelled entries. From logits it is
    computed stably (log-sigmoid, log-softmax); probabilities are clipped to
    [eps, 1 - eps] with eps the float64 machine epsilon (as scikit-learn)."""
    if output not in ("logits", "probabilities", MULTILABEL):
        raise ValueError(f"log_loss: needs output 'logits', 'probabilities' or 'multilabel', "
                         f"got {output!r}")
    outputs = np.asarray(outputs, dtype=np.float64)
    if output == MULTILABEL:
        _, _, mask = _multilabel_entries("log_loss", outputs, targets)
        y = np.where(mask, np.asarray(targets, np.float64).reshape(mask.shape), 0.0)
        z = outputs.reshape(mask.shape)
        losses = logistic_loss(z, y)
        return float(losses[mask].mean()) if mask.any() else 0.0
    if is_multiclass(outputs):
        targets = np.asarray(targets)
        scores = outputs.reshape(-1, outputs.shape[-1])
        if output == "logits":
            log_p = stable_log_softmax(scores, axis=1)
        else:
            eps = np.finfo(np.float64).eps
            log_p = np.log(np.clip(scores, eps, 1 - eps))
        if targets.shape == outputs.shape:
            Y = targets.reshape(scores.shape).astype(np.float64)
        else:
            _, true = _labels("log_loss", outputs, targets, output)
            Y = np.eye(scores.shape[1])[true]
        return float(-(Y * log_p).sum(axis=1).mean()) if len(Y) else 0.0
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    a = outputs.reshape(-1)
    if a.size != y.size:
        raise ValueError(f"log_loss: outputs of shape {outputs.shape} against targets of "
                         f"{np.shape(targets)} elements")
    if not a.size:
        return 0.0
    if output == "logits":
        return float(logistic_loss(a, y).mean())
    eps = np.finfo(np.float64).eps
    a = np.clip(a, eps, 1 - eps)
    return float(-(y * np.log(a) + (1 - y) * np.log1p(-a)).mean())


# -- internals of the extra metrics ------------------------------------------------------------

def labelled(targets: np.ndarray, missing: float = -1) -> np.ndarray:
    """Which entries of multi-label targets carry a label: not NaN and not ``missing``."""
    targets = np.asarray(targets, dtype=np.float64)
    return ~np.isnan(targets) & (targets != missing)


def _multilabel_entries(name: str, outputs: np.ndarray,
                        targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(predicted, true, labelled) boolean arrays of shape (m, L)."""
    outputs, targets = np.asarray(outputs), np.asarray(targets, dtype=np.float64)
    if outputs.shape != targets.shape:
        raise ValueError(f"{name}: multi-label outputs of shape {outputs.shape} need targets of "
                         f"the same shape, got {targets.shape}")
    shape = (len(outputs), -1) if outputs.ndim else (1, 1)
    mask = labelled(targets).reshape(shape)
    true = np.where(mask, targets.reshape(shape), 0.0) >= 0.5
    return outputs.reshape(shape) > 0, true, mask


def _multilabel_score(name: str, outputs: np.ndarray, targets: np.ndarray,
                      average: str) -> float:
    pred, true, mask = _multilabel_entries(name, outputs, targets)
    pred, true = pred & mask, true & mask
    tp, n_pred, n_true = ((pred & true).sum(0), pred.sum(0), true.sum(0))
    present = mask.any(axis=0)
    return _average(name, tp, n_pred, n_true, present,
                    "micro" if average in ("auto", "binary") else average)


def _binary_targets(name: str, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    if y.size != outputs.size:
        raise ValueError(f"{name}: outputs of shape {outputs.shape} give {outputs.size} scores, "
                         f"targets of shape {np.shape(targets)} give {y.size} labels")
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{name}: binary outputs need labels in {{0, 1}}, got labels from "
                         f"{y.min():g} to {y.max():g}")
    return y


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of x, tied values sharing the mean of their ranks."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    first = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    ranks[order] = ((starts + 1 + ends) / 2)[group]
    return ranks


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """AUC = (sum of the positives' ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg)."""
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
