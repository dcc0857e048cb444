"""Datasets: the map-style protocol (``len(ds)``, ``ds[i]``), streams, arrays (also
memory-mapped), subsets, concatenations and random splits.

A map-style dataset is any object with ``__len__`` and ``__getitem__(i)`` returning one
example of any structure (an array, a tuple, a dict, ...). It may also give a fast batched
path ``__getitems__(indices)``: a ``list`` of examples (PyTorch's convention; the loader
collates them) or a ready batch (a tuple/dict/array with the batch on axis 0, as
``ArrayDataset`` returns). An iterable dataset (a stream) has ``__iter__`` instead.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.errors import ShapeError
from dlkit.tensor import Tensor


class Dataset:
    """Base of map-style datasets: subclasses define ``__len__`` and ``__getitem__(i)``.
    ``ds1 + ds2`` is their ``ConcatDataset``."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: Any) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset:
    """Base of streams: subclasses define ``__iter__`` yielding examples (and may define
    ``__len__``). The loader batches consecutive examples; there is no shuffling."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


def is_map_dataset(obj: Any) -> bool:
    """True for objects the loader treats as map-style datasets (not arrays, lists, Tensors)."""
    if isinstance(obj, (np.ndarray, Tensor, list, tuple, str, bytes, dict)):
        return False
    if isinstance(obj, Dataset):
        return True
    return (hasattr(obj, "__getitem__") and hasattr(obj, "__len__")
            and not hasattr(obj, "__array__") and not isinstance(obj, IterableDataset))


def is_iterable_dataset(obj: Any) -> bool:
    return isinstance(obj, IterableDataset)


# -- arrays -----------------------------------------------------------------------------------

class ArrayDataset(Dataset):
    """Examples are the rows (axis 0) of one or more arrays: ``ds[i] = (X[i], y[i])``.

    ``ds.__getitems__(indices)`` gives the batch ``(X[indices], y[indices])`` in one fancy
    index. Over ``np.memmap`` arrays (``np.load(path, mmap_mode="r")``) it reads only those
    rows with ``os.pread`` (sorted, contiguous runs merged), so iterating over a file bigger
    than memory keeps the process's resident memory at about one batch.
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("ArrayDataset: expected at least one array, got none")
        arrays = tuple(a.data if isinstance(a, Tensor) else
                       a if isinstance(a, np.ndarray) else np.asarray(a) for a in arrays)
        m = len(arrays[0]) if arrays[0].ndim else 0
        for i, a in enumerate(arrays):
            if a.ndim == 0 or len(a) != m:
                raise ShapeError(
                    f"ArrayDataset: array {i} has {len(a) if a.ndim else 0} examples, array 0 "
                    f"has {m}; examples go on the first axis (transpose an (n_x, m) matrix)")
        self.arrays, self.m = arrays, m
        self._readers = [_RowReader.of(a) for a in arrays]

    def __len__(self) -> int:
        return self.m

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        i = _check_index("ArrayDataset", index, self.m)
        return tuple(np.array(a[i]) for a in self.arrays)

    def __getitems__(self, indices: Any) -> tuple[np.ndarray, ...]:
        """Rows ``indices`` (an int array, or a ``slice`` for a view) of every array."""
        if isinstance(indices, slice):  # views, except rows read from a memory-mapped file
            rows = np.arange(self.m)[indices]
            return tuple(a[indices] if r is None else r.rows(rows)
                         for a, r in zip(self.arrays, self._readers))
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < -self.m or idx.max() >= self.m):
            bad = idx[(idx < -self.m) | (idx >= self.m)][0]
            raise IndexError(f"ArrayDataset: index {bad} out of range for {self.m} examples")
        return tuple(a[idx] if r is None else r.rows(idx % self.m)
                     for a, r in zip(self.arrays, self._readers))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_readers"] = [None if r is None else r.spec() for r in self._readers]
        return state

    def __setstate__(self, state: dict) -> None:
        readers = state.pop("_readers")
        self.__dict__.update(state)
        self._readers = [None if r is None else _RowReader(*r) for r in readers]


class _RowReader:
    """Reads rows of a C-contiguous memory-mapped array from its file with ``os.pread``,
    never touching the mapping (whose pages would count in the process's resident memory)."""

    def __init__(self, filename: str, offset: int, shape: tuple, dtype: np.dtype) -> None:
        self.filename, self.offset = filename, offset
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd, self._pid = -1, -1

    @classmethod
    def of(cls, a: np.ndarray) -> _RowReader | None:
        if not isinstance(a, np.memmap) or a.filename is None or not a.flags.c_contiguous \
                or not hasattr(os, "pread") or a.dtype.hasobject:
            return None
        mm = getattr(a, "_mmap", None)
        if mm is None:
            return None
        import mmap
        start = a.offset - a.offset % mmap.ALLOCATIONGRANULARITY
        base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
        return cls(a.filename, start + a.ctypes.data - base, a.shape, a.dtype)

    def spec(self) -> tuple:
        return self.filename, self.offset, self.shape, self.dtype

    def _file(self) -> int:
        if self._pid != os.getpid():  # a forked worker opens its own descriptor
            self._fd, self._pid = os.open(self.filename, os.O_RDONLY), os.getpid()
        return self._fd

    def rows(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx),) + self.shape[1:], dtype=self.dtype)
        if len(idx) == 0 or self.row_bytes == 0:
            return out
        fd, rb = self._file(), self.row_bytes
        flat = out.reshape(-1).view(np.uint8)
        # runs of consecutive rows (in the batch's own order) become one read each, straight
        # into the batch: no sort, no second copy
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1
        for lo, hi in zip(np.r_[0, breaks].tolist(), np.r_[breaks, len(idx)].tolist()):
            first, want = int(idx[lo]), (hi - lo) * rb
            view, got = memoryview(flat)[lo * rb:hi * rb], 0
            while got < want:
                where = self.offset + first * rb + got
                n = os.preadv(fd, [view[got:]], where) if hasattr(os, "preadv") else \
                    _pread_into(fd, view[got:], where)
                if n <= 0:
                    raise OSError(f"ArrayDataset: short read of {self.filename} at row {first}")
                got += n
        return out


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    data = os.pread(fd, len(view), offset)
    view[:len(data)] = data
    return len(data)


# -- composition ------------------------------------------------------------------------------

class Subset(Dataset):
    """The examples ``indices`` of ``dataset``, in that order: ``Subset(ds, [3, 1])[0] = ds[3]``."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of {n} "
                             f"examples, got min {self.indices.min()}, max {self.indices.max()}")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[_check_index("Subset", index, len(self))])]

    def __getitems__(self, indices: Any) -> Any:
        inner = self.indices[np.asarray(indices, dtype=np.int64)]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(inner)
        return [self.dataset[int(i)] for i in inner]


class ConcatDataset(Dataset):
    """Datasets one after the other: indices ``0..len(a)-1`` are ``a``'s, then ``b``'s."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset")
        for i, d in enumerate(self.datasets):
            if not is_map_dataset(d):
                raise TypeError(f"ConcatDataset: dataset {i} ({type(d).__name__}) is not a "
                                f"map-style dataset (needs __len__ and __getitem__)")
        self.cumulative = np.cumsum([len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self.cumulative[-1])

    def __getitem__(self, index: int) -> Any:
        i = _check_index("ConcatDataset", index, len(self))
        part = int(np.searchsorted(self.cumulative, i, side="right"))
        start = int(self.cumulative[part - 1]) if part else 0
        return self.datasets[part][i - start]


def random_split(dataset: Any, lengths: Sequence[int | float]) -> list[Subset]:
    """Split into non-overlapping random ``Subset``s of the given sizes (counts summing to
    ``len(dataset)``, or fractions summing to 1, the remainder dealt one by one from the
    first part), shuffled with the dlkit generator (seed with ``dl.manual_seed``)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1):
        if any(x < 0 for x in lengths):
            raise ValueError(f"random_split: expected non-negative fractions, got {lengths}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        counts = lengths
        if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0
               for c in counts) or sum(counts) != n:
            raise ValueError(f"random_split: expected counts summing to the {n} examples or "
                             f"fractions summing to 1, got {lengths}")
    order = generator().permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _check_index(name: str, index: Any, n: int) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{name}: expected an int index, got {type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"{name}: index {index} out of range for {n} examples")
    return int(index) % n if n else int(index)
