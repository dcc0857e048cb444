"""Weight initializers of the notes; each returns an array drawn from the dlkit generator.

Fan-in follows the notes' layouts: dense W (n[l], n[l-1]) has fan_in n[l-1]; conv W
(f, f, n_C_prev, n_C) has fan_in f*f*n_C_prev.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator, get_default_dtype

Initializer = Callable[..., np.ndarray]


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: dense (n_out, n_in), conv (f.., n_C_prev, n_C)."""
    shape = tuple(shape)
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[1], shape[0]
    receptive = int(np.prod(shape[:-2]))
    return receptive * shape[-2], receptive * shape[-1]


def _normal(shape: Sequence[int], std: float, dtype: Any) -> np.ndarray:
    draw = generator().standard_normal(tuple(shape))
    return (draw * std).astype(dtype or get_default_dtype())


def zeros(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    """W = 0: every unit stays identical (the symmetry the notes warn about)."""
    return np.zeros(tuple(shape), dtype or get_default_dtype())


def small_random(shape: Sequence[int], dtype: Any = None, scale: float = 0.01) -> np.ndarray:
    """W = randn * 0.01, the notes' first initialization."""
    return _normal(shape, scale, dtype)


def xavier_normal(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    """W = randn * sqrt(1 / n[l-1]) (Xavier, for tanh)."""
    return _normal(shape, np.sqrt(1.0 / fans(shape)[0]), dtype)


def he_normal(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    """W = randn * sqrt(2 / n[l-1]) (He, for ReLU)."""
    return _normal(shape, np.sqrt(2.0 / fans(shape)[0]), dtype)


def glorot_uniform(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    """W ~ U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Keras' default)."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    draw = generator().uniform(-limit, limit, size=tuple(shape))
    return draw.astype(dtype or get_default_dtype())


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "small": small_random,
    "small_random": small_random,
    "xavier": xavier_normal,
    "xavier_normal": xavier_normal,
    "he": he_normal,
    "he_normal": he_normal,
    "glorot_uniform": glorot_uniform,
}


def get(init: str | Initializer) -> Initializer:
    """An initializer by name ("he", "xavier", "small", "zeros", "glorot_uniform") or as is."""
    if callable(init):
        return init
    if init not in INITIALIZERS:
        raise ValueError(f"init: unknown initializer {init!r}; expected one of "
                         f"{sorted(INITIALIZERS)} or a function (shape, dtype) -> array")
    return INITIALIZERS[init]
