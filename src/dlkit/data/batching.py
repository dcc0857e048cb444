"""Making one batch: fetch the examples, collate, transform, under the batch's own seed.

This is the work a loader worker does (and the main process with ``num_workers=0``).
Each batch ``k`` of an epoch runs with the dlkit generator (and Python's ``random`` and
NumPy's legacy global state) seeded from ``(epoch_seed, k)``, so a transform or dataset that
draws from ``dlkit.backend.generator()`` gives the same batch whichever process makes it.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np

from dlkit import backend
from dlkit.data.collate import CollateError, default_collate
from dlkit.errors import ShapeError
from dlkit.tensor import Tensor


@contextmanager
def batch_seed(epoch_seed: int | None, k: int):
    """Within the block, dlkit's generator, ``random`` and ``np.random`` are seeded from
    ``(epoch_seed, k)``; afterwards the previous states are back. ``None``: no change."""
    if epoch_seed is None:
        yield
        return
    seq = np.random.SeedSequence([int(epoch_seed), int(k)])
    old_gen, old_random, old_np = backend._generator, random.getstate(), np.random.get_state()
    backend._generator = np.random.Generator(np.random.PCG64(seq))
    words = seq.generate_state(2)
    random.seed(int(words[0]))
    np.random.seed(int(words[1]))
    try:
        yield
    finally:
        backend._generator = old_gen
        random.setstate(old_random)
        np.random.set_state(old_np)


class ExampleError(Exception):
    """A failure while making a batch: ``index`` is the dataset index of the example that
    failed (or None for the batch as a whole), ``exc`` the original exception."""

    def __init__(self, index: int | None, exc: BaseException, where: str) -> None:
        super().__init__(str(exc))
        self.index, self.exc, self.where = index, exc, where
        self.trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class BatchMaker:
    """``make(indices, epoch_seed, k)`` -> one batch (NumPy arrays in the batch's structure).

    ``arrays_mode`` is the historic ``DataLoader(X, y, ...)``: the dataset is an
    ``ArrayDataset`` sliced directly, ``transform`` maps the first array's batch.
    """

    def __init__(self, dataset: Any, collate_fn: Callable | None, transform: Callable | None,
                 arrays_mode: bool) -> None:
        self.dataset, self.transform, self.arrays_mode = dataset, transform, arrays_mode
        self.collate_fn = collate_fn
        self.batched = collate_fn is None and hasattr(dataset, "__getitems__")

    def __getstate__(self) -> dict:  # a stream in progress stays with its process
        return {k: v for k, v in self.__dict__.items() if k != "_stream"}

    def make(self, indices: Any, epoch_seed: int | None, k: int) -> Any:
        with batch_seed(epoch_seed, k):
            batch = self._fetch(indices)
            if self.transform is not None:
                batch = self._transformed(batch, indices)
        return batch

    def next_stream_batch(self, restart: bool, epoch_seed: int | None, k: int,
                          batch_size: int, drop_last: bool) -> Any:
        """The next ``batch_size`` examples of an iterable dataset (a new pass when
        ``restart``), collated and transformed; None when the stream is exhausted."""
        if restart or getattr(self, "_stream", None) is None:
            self._stream = iter(self.dataset)
        with batch_seed(epoch_seed, k):
            examples = []
            try:
                for example in self._stream:
                    examples.append(example)
                    if len(examples) == batch_size:
                        break
            except Exception as e:
                raise ExampleError(None, e, "reading the stream") from e
            if not examples or (drop_last and len(examples) < batch_size):
                return None
            try:
                batch = (self.collate_fn or default_collate)(examples)
            except Exception as e:
                raise ExampleError(None, e, "collating") from e
            if self.transform is not None:
                batch = self._transformed(batch, None)
        return batch

    # -- fetching -----------------------------------------------------------------------------
    def _fetch(self, indices: Any) -> Any:
        if self.arrays_mode:
            return self.dataset.__getitems__(indices)
        idx = np.arange(indices.start, indices.stop) if isinstance(indices, slice) else indices
        if self.batched:
            try:
                got = self.dataset.__getitems__(idx)
            except Exception as e:
                raise self._culprit(idx, e) from e
            if not isinstance(got, list):
                return got
            examples = got
        else:
            examples = []
            for i in idx.tolist():
                try:
                    examples.append(self.dataset[i])
                except Exception as e:
                    raise ExampleError(i, e, "loading") from e
        collate = self.collate_fn or default_collate
        try:
            return collate(examples)
        except CollateError as e:
            msg = e.detail.replace(f"example {e.position}",
                                   f"example {int(idx[e.position])} (position {e.position} in "
                                   f"the batch)", 1)
            raise ExampleError(int(idx[e.position]), ShapeError(msg), "collating") from e
        except Exception as e:
            raise ExampleError(None, e, "collating") from e

    def _culprit(self, idx: np.ndarray, exc: Exception) -> ExampleError:
        """The first example that fails alone, else the batch's error."""
        for i in idx.tolist():
            try:
                self.dataset[i]
            except Exception as e:
                return ExampleError(i, e, "loading")
        return ExampleError(None, exc, "loading")

    # -- transform ----------------------------------------------------------------------------
    def _transformed(self, batch: Any, indices: Any) -> Any:
        if isinstance(batch, np.ndarray):
            return self._apply(batch, indices)
        if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], np.ndarray):
            first = batch[0]
            if self.arrays_mode and isinstance(indices, slice):
                first = first.copy()  # a slice is a view of the data set: keep the data safe
            parts = [self._apply(first, indices), *batch[1:]]
            if hasattr(batch, "_fields"):
                return type(batch)(*parts)
            return parts if isinstance(batch, list) else tuple(parts)
        raise TypeError(f"DataLoader: transform applies to a batch that is an array or whose "
                        f"first field is an array; got a {type(batch).__name__} batch (transform "
                        f"examples in the dataset, or pass a collate_fn that does it)")

    def _apply(self, X: np.ndarray, indices: Any) -> Any:
        out = self.transform(X)
        out = out.data if isinstance(out, Tensor) else out
        if getattr(out, "ndim", 0) == 0 or len(out) != len(X):
            raise ShapeError(
                f"DataLoader: transform {self.transform!r} must keep the batch's examples; it "
                f"mapped shape {X.shape} to {getattr(out, 'shape', type(out).__name__)}")
        return out


def to_tensors(batch: Any) -> Any:
    """Every NumPy array in ``batch`` becomes a ``Tensor``; containers keep their type."""
    if isinstance(batch, np.ndarray):
        return Tensor(batch)
    if isinstance(batch, dict):
        return {k: to_tensors(v) for k, v in batch.items()}
    if isinstance(batch, tuple):
        parts = [to_tensors(v) for v in batch]
        return type(batch)(*parts) if hasattr(batch, "_fields") else tuple(parts)
    if isinstance(batch, list):
        if batch and isinstance(batch[0], (str, bytes)):
            return batch
        return [to_tensors(v) for v in batch]
    return batch
