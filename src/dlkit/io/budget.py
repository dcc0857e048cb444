"""Building a model from a file's config without trusting the config's sizes.

``load`` builds the layers a config names, then fills them with the file's arrays. A config
that declares a layer far larger than the arrays the file holds would allocate it (and fill it
with random draws) before the load could tell. While building, ``draw_budget`` puts in place a
generator that counts the numbers the initializers draw and refuses, before drawing, any that
would exceed what the file's arrays can fill.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlkit import backend


class BudgetExceeded(ValueError):
    """A build drew more numbers than the file has array elements."""


def _count(size: Any, *params: Any) -> int:
    if size is None:
        return max([int(np.size(p)) for p in params] + [1])
    if isinstance(size, (int, np.integer)):
        return int(size)
    return math.prod(int(d) for d in size)


class _BudgetGenerator(np.random.Generator):
    """A NumPy generator whose draws count against a number of elements."""

    def __init__(self, elements: int) -> None:
        super().__init__(np.random.PCG64(0))
        self.elements = elements
        self.left = 2 * elements + 4096

    def _take(self, n: int) -> None:
        if n > self.left:
            raise BudgetExceeded(
                f"the config declares layers with more weights than the file's arrays hold "
                f"(a layer asks for {n} numbers; the file holds {self.elements} array "
                "elements in all)"
            )
        self.left -= n

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        self._take(_count(size))
        return super().standard_normal(size, dtype, out)

    def normal(self, loc=0.0, scale=1.0, size=None):
        self._take(_count(size, loc, scale))
        return super().normal(loc, scale, size)

    def uniform(self, low=0.0, high=1.0, size=None):
        self._take(_count(size, low, high))
        return super().uniform(low, high, size)

    def random(self, size=None, dtype=np.float64, out=None):
        self._take(_count(size))
        return super().random(size, dtype, out)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        self._take(_count(size, low, high))
        return super().integers(low, high, size, dtype, endpoint)


@contextlib.contextmanager
def draw_budget(elements: int) -> Iterator[None]:
    """Inside the block, dlkit's generator refuses to draw more than about ``elements``
    numbers in all (twice that, plus a little, for initializers that draw and discard).
    The generator's state is restored afterwards."""
    state = backend.get_rng_state()
    backend._generator = _BudgetGenerator(int(elements))
    try:
        yield
    finally:
        backend.set_rng_state(state)
