"""Datasets that need no download, from scikit-learn (the optional ``data`` extra).

Every function returns ``X`` float (the default dtype, float32) batch-first, ``(m, n_x)``, and
``y`` as ``(m, 1)`` float for binary tasks or ``(m,)`` int64 class indices for multiclass.
Random generators draw sklearn's ``random_state`` from the dlkit generator, so
``dl.manual_seed`` makes them repeat.
"""

from __future__ import annotations

import numpy as np

from dlkit.backend import generator, get_default_dtype
from dlkit.data._extras import require_extra


def _random_state() -> int:
    """A seed for scikit-learn drawn from the dlkit generator."""
    return int(generator().integers(2**31 - 1))


def _binary(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dtype = get_default_dtype()
    return X.astype(dtype), y.reshape(-1, 1).astype(dtype)


def _check_m(fn: str, m: int) -> None:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise ValueError(f"{fn}: expected m an int >= 2 examples, got {m!r}")


def _check_noise(fn: str, noise: float) -> None:
    if not noise >= 0:
        raise ValueError(f"{fn}: expected noise >= 0 (std of Gaussian noise), got {noise!r}")


def make_moons(m: int = 400, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: X (m, 2), y (m, 1) in {0, 1}; ``noise`` is the std of
    the Gaussian noise added to the points."""
    _check_m("make_moons", m)
    _check_noise("make_moons", noise)
    datasets = require_extra("sklearn.datasets", "make_moons")
    X, y = datasets.make_moons(n_samples=int(m), noise=float(noise),
                               random_state=_random_state())
    return _binary(X, y)


def make_circles(m: int = 400, noise: float = 0.05,
                 factor: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (y = 1, radius ``factor``) inside a large one (y = 0, radius 1):
    X (m, 2), y (m, 1); not linearly separable, as the notes' logistic regression fails on."""
    _check_m("make_circles", m)
    _check_noise("make_circles", noise)
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: expected 0 < factor < 1 (inner/outer radius), got "
                         f"{factor!r}")
    datasets = require_extra("sklearn.datasets", "make_circles")
    X, y = datasets.make_circles(n_samples=int(m), noise=float(noise), factor=float(factor),
                                 random_state=_random_state())
    return _binary(X, y)


def load_digits(as_images: bool = False, scale: bool = True,
                n_class: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The 1797 handwritten digits, 8x8 pixels with values 0..16: X (m, 64), or
    (m, 8, 8, 1) channels-last with ``as_images``; scaled to [0, 1] (x / 16) with ``scale``;
    y (m,) int64 in 0..n_class-1 (the first ``n_class`` digits)."""
    if isinstance(n_class, bool) or not isinstance(n_class, (int, np.integer)) \
            or not 2 <= n_class <= 10:
        raise ValueError(f"load_digits: expected n_class an int in [2, 10], got {n_class!r}")
    datasets = require_extra("sklearn.datasets", "load_digits")
    X, y = datasets.load_digits(n_class=int(n_class), return_X_y=True)
    X = X.astype(get_default_dtype())
    if scale:
        X /= 16.0
    if as_images:
        X = X.reshape(-1, 8, 8, 1)
    return X, y.astype(np.int64)


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Wisconsin breast cancer: X (569, 30) raw features (standardize them, fitted on the
    training split), y (569, 1) with 1 = benign, 0 = malignant."""
    datasets = require_extra("sklearn.datasets", "load_breast_cancer")
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return _binary(X, y)
