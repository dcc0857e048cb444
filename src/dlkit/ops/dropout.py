"""Inverted dropout, as the notes: D = (rand < keep_prob); A = A * D / keep_prob."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import array_module, generator
from dlkit.tensor import Function, Tensor, as_tensor


class Dropout(Function):
    """A = A * D / keep_prob with D ~ Bernoulli(keep_prob), keep_prob = 1 - p;
    dA_prev = dA * D / keep_prob (the same mask, the same scale)."""

    def __init__(self, p: float) -> None:
        self.p = p

    def forward(self, x):
        xp = array_module(x)
        keep_prob = 1.0 - self.p
        rng = generator(xp)
        draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
        keep = rng.random(x.shape, dtype=draw_dtype) < keep_prob
        self.scale = keep * x.dtype.type(1.0 / keep_prob) if keep_prob > 0 else xp.zeros_like(x)
        return x * self.scale

    def backward(self, gy):
        return gy * self.scale


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each entry with probability ``p`` and scale the rest by
    1 / (1 - p), so the expected activation is unchanged; identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: expected p (the drop probability) in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    return Dropout(p)(x)
