"""DataLoader: mini-batches over arrays, shuffled from the dlkit generator."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.errors import ShapeError
from dlkit.tensor import Tensor


class DataLoader:
    """Yields ``(X_batch, y_batch)`` tensors of ``batch_size`` examples (the last batch may
    be smaller, as the notes' mini-batch partition). With ``shuffle`` (training), each pass
    permutes the examples with the dlkit generator, so a seeded run repeats.

    ``arrays`` are NumPy arrays with examples on the first axis (batch-first).

    ``transform`` (e.g. ``dlkit.data.RandomHorizontalFlip()``) is applied to each batch of the
    first array (the inputs X, a NumPy array) before it becomes a Tensor; the other arrays
    (labels) pass untouched. It runs anew every pass: fresh distortions each epoch.
    """

    def __init__(self, *arrays: Any, batch_size: int = 64, shuffle: bool = True,
                 drop_last: bool = False, transform: Callable[[Any], Any] | None = None) -> None:
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: expected transform to be a callable on a batch X "
                            f"(e.g. dlkit.data.RandomHorizontalFlip()) or None, got "
                            f"{type(transform).__name__}")
        if not arrays:
            raise ValueError("DataLoader: expected at least one array, got none")
        arrays = tuple(a.data if isinstance(a, Tensor) else np.asarray(a) for a in arrays)
        m = len(arrays[0])
        for i, a in enumerate(arrays):
            if a.ndim == 0 or len(a) != m:
                raise ShapeError(
                    f"DataLoader: array {i} has {len(a) if a.ndim else 0} examples, array 0 has "
                    f"{m}; examples go on the first axis (transpose an (n_x, m) matrix)"
                )
        if batch_size <= 0:
            raise ValueError(f"DataLoader: expected batch_size > 0, got {batch_size}")
        self.arrays, self.m = arrays, m
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.transform = transform

    def __len__(self) -> int:
        if self.drop_last:
            return self.m // self.batch_size
        return math.ceil(self.m / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        order = generator().permutation(self.m) if self.shuffle else None
        for k in range(len(self)):
            lo, hi = k * self.batch_size, min((k + 1) * self.batch_size, self.m)
            if order is None:
                parts = [a[lo:hi] for a in self.arrays]
            else:
                idx = order[lo:hi]
                parts = [a[idx] for a in self.arrays]
            if self.transform is not None:
                # a slice is a view of the data set: hand the transform a copy to keep it safe
                parts[0] = self._transformed(parts[0].copy() if order is None else parts[0])
            yield tuple(Tensor(a) for a in parts)

    def _transformed(self, X: np.ndarray) -> Any:
        out = self.transform(X)
        out = out.data if isinstance(out, Tensor) else out
        if getattr(out, "ndim", 0) == 0 or len(out) != len(X):
            raise ShapeError(
                f"DataLoader: transform {self.transform!r} must keep the batch's examples; it "
                f"mapped shape {X.shape} to {getattr(out, 'shape', type(out).__name__)}"
            )
        return out
