"""Turning inputs (NumPy arrays, lists, dlkit Tensors) into NumPy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.tensor import Tensor


def as_numpy(a: Any) -> np.ndarray:
    """A NumPy array of ``a``: a Tensor's ``.data`` (copied from the GPU), else ``np.asarray``."""
    return to_numpy(a.data if isinstance(a, Tensor) else a)
