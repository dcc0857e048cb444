"""Mirroring (course 4, "Data augmentation"): flip chosen examples left-right or up-down."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.data.transforms._base import Transform, check_prob


class _RandomFlip(Transform):
    axis: int

    def __init__(self, p: float = 0.5) -> None:
        self.p = check_prob(type(self).__name__, p)

    def apply(self, X: np.ndarray) -> np.ndarray:
        chosen = generator().random(len(X)) < self.p  # one draw per example
        out = X.copy()
        out[chosen] = np.flip(X[chosen], axis=self.axis)
        return out

    def _args(self) -> dict[str, Any]:
        return {"p": self.p}


class RandomHorizontalFlip(_RandomFlip):
    """Mirroring: each example is flipped left-right (along n_W) with probability ``p``:
    ``X[i] -> X[i, :, ::-1]``."""

    axis = 2


class RandomVerticalFlip(_RandomFlip):
    """Each example is flipped upside down (along n_H) with probability ``p``:
    ``X[i] -> X[i, ::-1]``."""

    axis = 1
