"""One-hot encoding of class labels, batch-first: Y[i, c] = 1 if y^(i) = c.

The notes' ``convert_to_one_hot(Y, C)`` puts examples in columns, (C, m); dlkit is
batch-first, (m, C): transpose to compare with the notes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.data._arrays import as_numpy
from dlkit.errors import ShapeError


def one_hot(labels: Any, n_classes: int | None = None,
            dtype: Any = None) -> np.ndarray:
    """Labels (m,) or (m, 1) in {0, ..., C-1} -> Y (m, C) with Y[i, labels[i]] = 1.

    ``n_classes`` defaults to ``max(labels) + 1``; ``dtype`` to the default float dtype.
    """
    y = as_numpy(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        hint = "already one-hot? use from_one_hot" if y.ndim == 2 else "flatten the labels"
        raise ShapeError(f"one_hot: expected labels of shape (m,) or (m, 1), got shape "
                         f"{y.shape}; {hint}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"one_hot: expected integer class labels, got dtype {y.dtype}")
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if bad.size:
            raise ValueError(f"one_hot: expected whole-number class labels, got {y[bad[0]]!r} "
                             f"at index {bad[0]}")
    y = y.astype(np.int64)
    if n_classes is None:
        if y.size == 0:
            raise ValueError("one_hot: cannot infer n_classes from empty labels; pass n_classes")
        n_classes = int(y.max()) + 1
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 1:
        raise ValueError(f"one_hot: expected n_classes a positive int, got {n_classes!r}")
    bad = np.flatnonzero((y < 0) | (y >= n_classes))
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"one_hot: expected labels in [0, {n_classes - 1}] for n_classes={n_classes}, got "
            f"{y[i]} at index {i} ({bad.size} label(s) out of range)"
            + ("; labels must be non-negative class indices" if y[i] < 0
               else "; raise n_classes or map the labels to 0..C-1")
        )
    Y = np.zeros((y.size, int(n_classes)), dtype=get_default_dtype() if dtype is None else dtype)
    Y[np.arange(y.size), y] = 1
    return Y


def from_one_hot(Y: Any) -> np.ndarray:
    """Y (m, C) one-hot (or class scores/probabilities) -> labels (m,) int64: argmax_c Y[i, c]."""
    Y = as_numpy(Y)
    if Y.ndim != 2:
        raise ShapeError(f"from_one_hot: expected Y of shape (m, C), got shape {Y.shape}; "
                         f"one_hot output is 2-D, one row per example")
    if Y.shape[1] == 0:
        raise ShapeError(f"from_one_hot: expected at least one class column, got shape {Y.shape}")
    return Y.argmax(axis=1).astype(np.int64)
