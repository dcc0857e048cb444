"""Train/dev/test splits (course 2 and 3), shuffled from the dlkit generator.

Each function takes arrays with examples on axis 0 and returns, for each array, its parts in
order: ``a_part0, a_part1, ..., b_part0, ...`` (so ``X_train, X_dev, y_train, y_dev``).
Sizes are fractions (float, e.g. 0.01 = 1%) or counts of examples (int, e.g. 10_000), as the
notes size dev/test sets for big data. ``stratify=y`` keeps the class proportions of ``y``
in every part (classification).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.data._arrays import as_numpy
from dlkit.errors import ShapeError


def split(*arrays: Any, fractions: Sequence[float] = (0.98, 0.01, 0.01), shuffle: bool = True,
          stratify: Any = None) -> list[np.ndarray]:
    """Split into len(fractions) parts (e.g. train/dev/test 98/1/1 for big data, as the notes);
    returns for each array its parts in order: a_part0, a_part1, ..., b_part0, ..."""
    fractions = [float(f) for f in fractions]
    if not fractions or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"split: expected non-negative fractions summing to 1, got {fractions}")
    arrays_np, m = _check_arrays("split", arrays)
    bounds = np.round(np.cumsum([0.0] + fractions) * m).astype(int)
    return _take(arrays_np, _order("split", m, shuffle, stratify), bounds, stratify is not None)


def train_test_split(*arrays: Any, test_size: float | int = 0.2, shuffle: bool = True,
                     stratify: Any = None) -> list[np.ndarray]:
    """Split arrays (examples on axis 0) into train and test parts:
    ``X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)``."""
    return _split_sizes("train_test_split", arrays, {"test_size": test_size}, shuffle, stratify)


def train_dev_split(*arrays: Any, dev: float | int = 0.2, shuffle: bool = True,
                    stratify: Any = None) -> list[np.ndarray]:
    """Hold out a dev (hold-out cross-validation) set:
    ``X_train, X_dev, y_train, y_dev = train_dev_split(X, y, dev=0.2)``."""
    return _split_sizes("train_dev_split", arrays, {"dev": dev}, shuffle, stratify)


def train_dev_test_split(*arrays: Any, dev: float | int = 0.1, test: float | int = 0.1,
                         shuffle: bool = True, stratify: Any = None) -> list[np.ndarray]:
    """Train/dev/test (60/20/20 for small data, 98/1/1 or dev=10_000 for big data):
    ``X_train, X_dev, X_test, y_train, y_dev, y_test = train_dev_test_split(X, y, ...)``."""
    return _split_sizes("train_dev_test_split", arrays, {"dev": dev, "test": test}, shuffle,
                        stratify)


def train_traindev_split(*arrays: Any, size: float | int = 0.05, shuffle: bool = True,
                         stratify: Any = None) -> list[np.ndarray]:
    """Carve a training-dev set out of the training set (course 3: same distribution as
    training, not trained on): train vs train-dev error measures variance, train-dev vs dev
    error measures data mismatch.
    ``X_train, X_train_dev, y_train, y_train_dev = train_traindev_split(X_train, y_train)``."""
    return _split_sizes("train_traindev_split", arrays, {"size": size}, shuffle, stratify)


# -- internals --------------------------------------------------------------------------------

def _split_sizes(fn: str, arrays: tuple, held_out: dict[str, float | int], shuffle: bool,
                 stratify: Any) -> list[np.ndarray]:
    """Train first (the rest), then each held-out part, sized by fraction or count."""
    arrays_np, m = _check_arrays(fn, arrays)
    counts = [_count(fn, name, size, m) for name, size in held_out.items()]
    if sum(counts) > m:
        given = ", ".join(f"{k}={v!r}" for k, v in held_out.items())
        raise ValueError(f"{fn}: the held-out parts ({given}: {sum(counts)} examples) exceed "
                         f"the {m} examples given")
    bounds = np.cumsum([0, m - sum(counts), *counts])
    return _take(arrays_np, _order(fn, m, shuffle, stratify), bounds, stratify is not None)


def _count(fn: str, name: str, size: float | int, m: int) -> int:
    """A size as a number of examples: a float fraction in [0, 1), or an int count."""
    if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: expected {name} a fraction (float) or a count (int), got "
                        f"{size!r}")
    if isinstance(size, (int, np.integer)):
        if not 0 <= size <= m:
            raise ValueError(f"{fn}: expected {name} between 0 and {m} examples, got {size}")
        return int(size)
    if not 0.0 <= size < 1.0:
        raise ValueError(f"{fn}: expected {name} a fraction in [0, 1), got {size}; pass an int "
                         f"for a number of examples")
    return int(round(size * m))


def _check_arrays(fn: str, arrays: tuple) -> tuple[list[np.ndarray], int]:
    if not arrays:
        raise ValueError(f"{fn}: expected at least one array")
    arrays_np = [as_numpy(a) for a in arrays]
    for i, a in enumerate(arrays_np):
        if a.ndim == 0:
            raise ShapeError(f"{fn}: array {i} is a scalar; expected examples on axis 0")
    m = len(arrays_np[0])
    for i, a in enumerate(arrays_np):
        if len(a) != m:
            raise ShapeError(f"{fn}: array {i} has {len(a)} examples, array 0 has {m}; "
                             f"examples go on the first axis (transpose an (n_x, m) matrix?)")
    return arrays_np, m


def _order(fn: str, m: int, shuffle: bool, stratify: Any) -> np.ndarray:
    """The order examples are dealt into parts: a permutation, or, stratified, classes
    interleaved so that every contiguous block keeps the class proportions."""
    if stratify is None:
        return generator().permutation(m) if shuffle else np.arange(m)
    if not shuffle:
        raise ValueError(f"{fn}: stratify needs shuffle=True")
    labels = as_numpy(stratify)
    if labels.ndim == 0 or len(labels) != m:
        raise ShapeError(f"{fn}: expected stratify labels for the {m} examples, got shape "
                         f"{labels.shape}")
    _, cls = np.unique(labels.reshape(m, -1), axis=0, return_inverse=True)
    cls = cls.reshape(-1)
    rng = generator()
    # within each class, a random rank r in 0..n_c-1; position key (r + u) / n_c in [0, 1)
    perm = rng.permutation(m)
    by_class = perm[np.argsort(cls[perm], kind="stable")]
    counts = np.bincount(cls)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(m, dtype=np.int64)
    rank[by_class] = np.arange(m) - np.repeat(starts, counts)
    key = (rank + rng.random(m)) / counts[cls]
    return np.argsort(key, kind="stable")


def _take(arrays: list[np.ndarray], order: np.ndarray, bounds: np.ndarray,
          reshuffle: bool) -> list[np.ndarray]:
    """Cut ``order`` at ``bounds``; a stratified order is shuffled again within each part."""
    parts_idx = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = order[lo:hi]
        parts_idx.append(idx[generator().permutation(len(idx))] if reshuffle else idx)
    return [a[idx] for a in arrays for idx in parts_idx]
