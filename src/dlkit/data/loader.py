"""DataLoader: mini-batches over arrays, shuffled from the dlkit generator."""

from __future__ import annotations

import math
from collections.abc import Iterator
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
    """

    def __init__(self, *arrays: Any, batch_size: int = 64, shuffle: bool = True,
                 drop_last: bool = False) -> None:
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

    def __len__(self) -> int:
        if self.drop_last:
            return self.m // self.batch_size
        return math.ceil(self.m / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        order = generator().permutation(self.m) if self.shuffle else None
        for k in range(len(self)):
            lo, hi = k * self.batch_size, min((k + 1) * self.batch_size, self.m)
            if order is None:
                batch = tuple(Tensor(a[lo:hi]) for a in self.arrays)
            else:
                idx = order[lo:hi]
                batch = tuple(Tensor(a[idx]) for a in self.arrays)
            yield batch
