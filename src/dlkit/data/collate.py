"""Collation: a list of examples -> one batch of the same structure, batch on axis 0.

- arrays (and Tensors) of one shape -> stacked ``(m, *shape)``;
- arrays whose first axis differs (variable-length sequences ``(T_i, ...)``) -> a
  ``PaddedSequence(data (m, T_max, ...), mask (m, T_max), lengths (m,))``, padded with
  ``pad_value``; a mask entry is 1 on a real step, 0 on padding;
- Python ints/bools -> int64/bool arrays; floats -> the default float dtype (float32);
- tuples, lists, namedtuples and dicts -> the same container of collated fields;
- strings and other objects -> a list.

Inconsistent examples (other shapes, other keys, other lengths) raise a ``CollateError``
(a ``ShapeError``) naming the position in the batch; the loader turns it into the dataset
index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.errors import ShapeError
from dlkit.tensor import Tensor


class PaddedSequence(NamedTuple):
    """Variable-length sequences padded to the longest: ``data (m, T_max, ...)``,
    ``mask (m, T_max)`` (1 = a real step, in the default float dtype), ``lengths (m,)``."""

    data: Any
    mask: Any
    lengths: Any


class CollateError(ShapeError):
    """Examples of a batch that cannot be stacked; ``position`` is the offending example's
    place in the batch, ``field`` where in the example's structure."""

    def __init__(self, message: str, position: int, field: str = "") -> None:
        super().__init__(message)
        self.position, self.field, self.detail = position, field, message


class Collate:
    """A collate function: ``Collate(pad_value=0.0, pad=True)(examples) -> batch``.
    ``pad=False`` makes variable-length sequences an error instead of a ``PaddedSequence``."""

    def __init__(self, pad_value: float = 0.0, pad: bool = True) -> None:
        self.pad_value, self.pad = pad_value, pad

    def __call__(self, examples: Sequence[Any]) -> Any:
        if len(examples) == 0:
            raise ValueError("collate: expected at least one example, got an empty batch")
        return self._collate(list(examples), "")

    def __repr__(self) -> str:
        return f"Collate(pad_value={self.pad_value!r}, pad={self.pad!r})"

    def _collate(self, items: list, field: str) -> Any:
        first = items[0]
        if isinstance(first, Tensor):
            items = [x.data if isinstance(x, Tensor) else x for x in items]
            first = items[0]
        if isinstance(first, np.ndarray) or (isinstance(first, np.generic)
                                             and not isinstance(first, (np.str_, np.bytes_))):
            return self._arrays(items, field)
        if isinstance(first, (bool, np.bool_)):
            return self._scalars(items, field, bool, np.bool_)
        if isinstance(first, (int, np.integer)):
            return self._scalars(items, field, (int, np.integer), np.int64)
        if isinstance(first, float):
            return self._scalars(items, field, (int, float, np.number), get_default_dtype())
        if isinstance(first, Mapping):
            keys = list(first)
            for p, x in enumerate(items):
                if not isinstance(x, Mapping) or set(x) != set(keys):
                    got = sorted(x) if isinstance(x, Mapping) else type(x).__name__
                    raise CollateError(f"collate: example {p}{_at(field)} has keys {got}, "
                                       f"example 0 has {sorted(keys)}", p, field)
            out = {k: self._collate([x[k] for x in items], f"{field}[{k!r}]") for k in keys}
            return out if type(first) is dict else type(first)(out)
        if isinstance(first, (tuple, list)):
            n = len(first)
            for p, x in enumerate(items):
                if not isinstance(x, (tuple, list)) or len(x) != n:
                    got = f"{len(x)} fields" if isinstance(x, (tuple, list)) else \
                        type(x).__name__
                    raise CollateError(f"collate: example {p}{_at(field)} has {got}, example "
                                       f"0 has {n} fields", p, field)
            if n and all(isinstance(v, (str, bytes)) for v in first) and isinstance(first, list):
                return items  # a list of tokens per example stays a list of lists
            fields = [self._collate([x[j] for x in items], f"{field}[{j}]") for j in range(n)]
            if hasattr(first, "_fields"):  # namedtuple
                return type(first)(*fields)
            return tuple(fields) if isinstance(first, tuple) else fields
        return items

    def _scalars(self, items: list, field: str, kinds: Any, dtype: Any) -> np.ndarray:
        for p, x in enumerate(items):
            if not isinstance(x, kinds):
                raise CollateError(f"collate: example {p}{_at(field)} is a "
                                   f"{type(x).__name__}, example 0 a {type(items[0]).__name__}",
                                   p, field)
        return np.asarray(items, dtype=dtype)

    def _arrays(self, items: list, field: str) -> Any:
        arrays = []
        for p, x in enumerate(items):
            if isinstance(x, Tensor):
                x = x.data
            if not isinstance(x, (np.ndarray, np.generic)):
                raise CollateError(f"collate: example {p}{_at(field)} is a {type(x).__name__}, "
                                   f"example 0 an array", p, field)
            arrays.append(np.asarray(x))
        shape = arrays[0].shape
        if all(a.shape == shape for a in arrays):
            return np.stack(arrays)
        for p, a in enumerate(arrays):
            if a.ndim != len(shape) or a.shape[1:] != shape[1:] or not self.pad:
                hint = "" if a.ndim != len(shape) or a.shape[1:] != shape[1:] else \
                    " (variable-length sequences: use Collate(pad=True))"
                raise CollateError(
                    f"collate: example {p}{_at(field)} has shape {a.shape}, example 0 has "
                    f"{shape}; examples of a batch must agree on every axis but the first"
                    f"{hint}", p, field)
        return self._padded(arrays)

    def _padded(self, arrays: list[np.ndarray]) -> PaddedSequence:
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        T = int(lengths.max())
        dtype = np.result_type(*arrays)
        data = np.full((len(arrays), T) + arrays[0].shape[1:], self.pad_value, dtype=dtype)
        for i, a in enumerate(arrays):
            data[i, :len(a)] = a
        mask = (np.arange(T)[None, :] < lengths[:, None]).astype(get_default_dtype())
        return PaddedSequence(data, mask, lengths)


def _at(field: str) -> str:
    return f" at {field}" if field else ""


default_collate = Collate()
