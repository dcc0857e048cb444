"""Train/dev/test splits, shuffled from the dlkit generator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator


def train_test_split(*arrays: Any, test_size: float = 0.2,
                     shuffle: bool = True) -> list[np.ndarray]:
    """Split arrays (examples on axis 0) into train and test parts:
    ``X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)``."""
    return split(*arrays, fractions=(1 - test_size, test_size), shuffle=shuffle)


def split(*arrays: Any, fractions: Sequence[float] = (0.98, 0.01, 0.01),
          shuffle: bool = True) -> list[np.ndarray]:
    """Split into len(fractions) parts (e.g. train/dev/test 98/1/1 for big data, as the notes);
    returns for each array its parts in order: a_part0, a_part1, ..., b_part0, ..."""
    if not arrays:
        raise ValueError("split: expected at least one array")
    fractions = [float(f) for f in fractions]
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"split: expected non-negative fractions summing to 1, got {fractions}")
    m = len(arrays[0])
    for i, a in enumerate(arrays):
        if len(a) != m:
            raise ValueError(f"split: array {i} has {len(a)} examples, array 0 has {m}")
    order = generator().permutation(m) if shuffle else np.arange(m)
    bounds = np.round(np.cumsum([0.0] + fractions) * m).astype(int)
    parts = []
    for a in arrays:
        a = np.asarray(a)
        parts.extend(a[order[lo:hi]] for lo, hi in zip(bounds[:-1], bounds[1:]))
    return parts
