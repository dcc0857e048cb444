"""Tensor factories: constants and random draws from the dlkit generator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator, get_default_dtype
from dlkit.tensor import Tensor


def _shape(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), _dtype(dtype)), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), _dtype(dtype)), requires_grad)


def full(shape: Sequence[int], value: float, dtype: Any = None) -> Tensor:
    return Tensor(np.full(tuple(shape), value, _dtype(dtype)))


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(t.data), requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(t.data), requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    return Tensor(np.arange(start, stop, step, dtype=dtype) if stop is not None
                  else np.arange(start, dtype=dtype))


def eye(n: int, dtype: Any = None) -> Tensor:
    return Tensor(np.eye(n, dtype=_dtype(dtype)))


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws from the dlkit generator (``dl.manual_seed``)."""
    dt = _dtype(dtype)
    draw = generator().standard_normal(_shape(shape), dtype=np.float64).astype(dt)
    return Tensor(draw, requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) draws from the dlkit generator."""
    dt = _dtype(dtype)
    return Tensor(generator().random(_shape(shape)).astype(dt), requires_grad)


def randint(low: int, high: int, shape: Sequence[int]) -> Tensor:
    return Tensor(generator().integers(low, high, size=tuple(shape)))
