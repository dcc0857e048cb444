"""The notes' planar "flower" dataset: two classes of points on the petals of a rose curve."""

from __future__ import annotations

import numpy as np

from dlkit.backend import generator, get_default_dtype


def make_flower(m: int = 400, noise: float = 0.2, petals: float = 4.0) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """X (m, 2), y (m, 1) in {0, 1}: r = a sin(4 t) + noise, the course's load_planar_dataset
    drawn from the dlkit generator (seed with ``dl.manual_seed``)."""
    if m < 2:
        raise ValueError(f"make_flower: expected m >= 2 examples, got {m}")
    rng = generator()
    n = m // 2
    xs, ys = [], []
    for j, count in enumerate((n, m - n)):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, count) + rng.standard_normal(count) * noise
        r = petals * np.sin(4 * t) + rng.standard_normal(count) * noise
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full((count, 1), j))
    return np.concatenate(xs).astype(get_default_dtype()), np.concatenate(ys).astype(
        get_default_dtype())
