"""Tensor factories: constants and random draws from the dlkit generator.

``device=`` (``"cuda"``) puts the result there. Random draws are made on the host from the
dlkit generator and then moved, so a seeded tensor is the same on every device."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import array_module, generator, get_default_dtype
from dlkit.devices import to_device
from dlkit.tensor import Tensor


def _on(array: Any, device: Any) -> Any:
    return array if device is None else to_device(array, device)


def _shape(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          device: Any = None) -> Tensor:
    return Tensor(_on(np.zeros(_shape(shape), _dtype(dtype)), device), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    return Tensor(_on(np.ones(_shape(shape), _dtype(dtype)), device), requires_grad)


def full(shape: Sequence[int], value: float, dtype: Any = None, device: Any = None) -> Tensor:
    return Tensor(_on(np.full(tuple(shape), value, _dtype(dtype)), device))


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(array_module(t.data).zeros_like(t.data), requires_grad)  # on t's device


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(array_module(t.data).ones_like(t.data), requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           device: Any = None) -> Tensor:
    return Tensor(_on(np.arange(start, stop, step, dtype=dtype) if stop is not None
                      else np.arange(start, dtype=dtype), device))


def eye(n: int, dtype: Any = None, device: Any = None) -> Tensor:
    return Tensor(_on(np.eye(n, dtype=_dtype(dtype)), device))


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          device: Any = None) -> Tensor:
    """Standard normal draws from the dlkit generator (``dl.manual_seed``)."""
    dt = _dtype(dtype)
    draw = generator().standard_normal(_shape(shape), dtype=np.float64).astype(dt)
    return Tensor(_on(draw, device), requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """Uniform [0, 1) draws from the dlkit generator."""
    dt = _dtype(dtype)
    return Tensor(_on(generator().random(_shape(shape)).astype(dt), device), requires_grad)


def randint(low: int, high: int, shape: Sequence[int], device: Any = None) -> Tensor:
    return Tensor(_on(generator().integers(low, high, size=tuple(shape)), device))
