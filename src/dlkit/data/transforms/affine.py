"""Random rotations and shears: per-example affine warps, sampled on one grid for the batch.

For output pixel ``(y, x)`` (centred coordinates, y down the rows, x along the columns) each
example ``i`` reads its input at ``A_i (y, x)``: the inverse map. Points that fall outside the
image read ``fill``. Nearest-neighbour sampling keeps the dtype; bilinear gives floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.data.transforms._base import Transform, check_range, float_dtype

INTERPOLATIONS = ("nearest", "bilinear")


def affine_warp(X: np.ndarray, A: np.ndarray, interpolation: str = "nearest",
                fill: float = 0.0) -> np.ndarray:
    """Warp each image: ``out[i, y, x] = X[i, A_i (y, x)]`` about the image centre.

    ``X (m, n_H, n_W, n_C)``, ``A (m, 2, 2)`` acting on ``(row, column)`` offsets from the
    centre. The sampling grid of all examples is built at once: ``(m, 2, n_H n_W)``.
    """
    m, H, W, C = X.shape
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    ys, xs = np.meshgrid(np.arange(H, dtype=np.float32) - np.float32(cy),
                         np.arange(W, dtype=np.float32) - np.float32(cx), indexing="ij")
    grid = np.stack([ys.ravel(), xs.ravel()])  # (2, H W)
    src = np.einsum("mij,jp->mip", A.astype(np.float32), grid)  # (m, 2, H W)
    sy, sx = src[:, 0] + np.float32(cy), src[:, 1] + np.float32(cx)  # (m, H W) each
    batch = np.arange(m)[:, None]

    def gather(iy: np.ndarray, ix: np.ndarray, dtype: np.dtype) -> np.ndarray:
        inside = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)
        v = X[batch, np.clip(iy, 0, H - 1), np.clip(ix, 0, W - 1)].astype(dtype, copy=False)
        v[~inside] = fill
        return v  # (m, H W, C)

    if interpolation == "nearest":
        iy = np.floor(sy + 0.5).astype(np.intp)
        ix = np.floor(sx + 0.5).astype(np.intp)
        out = gather(iy, ix, X.dtype)
    else:
        dt = float_dtype(X)
        y0, x0 = np.floor(sy), np.floor(sx)
        wy, wx = (sy - y0).astype(dt)[..., None], (sx - x0).astype(dt)[..., None]
        y0, x0 = y0.astype(np.intp), x0.astype(np.intp)
        out = ((1 - wy) * (1 - wx) * gather(y0, x0, dt) + (1 - wy) * wx * gather(y0, x0 + 1, dt)
               + wy * (1 - wx) * gather(y0 + 1, x0, dt) + wy * wx * gather(y0 + 1, x0 + 1, dt))
    return out.reshape(m, H, W, C)


def _snap(a: np.ndarray) -> np.ndarray:
    """Round trig values within 1e-12 of 0 or +-1 to them, so 90-degree turns are exact."""
    r = np.round(a)
    return np.where(np.abs(a - r) < 1e-12, r, a)


class _RandomAffine(Transform):
    def __init__(self, interpolation: str, fill: float) -> None:
        name = type(self).__name__
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{name}: expected interpolation in {INTERPOLATIONS}, "
                             f"got {interpolation!r}")
        if isinstance(fill, bool) or not isinstance(fill, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name}: expected a number for fill, got {fill!r}")
        self.interpolation, self.fill = interpolation, float(fill)

    def matrices(self, m: int) -> np.ndarray:
        raise NotImplementedError

    def apply(self, X: np.ndarray) -> np.ndarray:
        return affine_warp(X, self.matrices(len(X)), self.interpolation, self.fill)


class RandomRotation(_RandomAffine):
    """Rotate each example about its centre by ``theta ~ U(-degrees, degrees)`` (or
    ``U(lo, hi)`` for ``degrees=(lo, hi)``), counter-clockwise for theta > 0 as ``np.rot90``;
    ``degrees=(90, 90)`` turns every square image exactly as ``np.rot90(X, axes=(1, 2))``.
    The output keeps the input size; corners that come from outside read ``fill``.
    """

    def __init__(self, degrees: float | tuple[float, float], interpolation: str = "nearest",
                 fill: float = 0.0) -> None:
        self.degrees = check_range("RandomRotation", "degrees", degrees)
        super().__init__(interpolation, fill)

    def matrices(self, m: int) -> np.ndarray:
        theta = np.deg2rad(generator().uniform(self.degrees[0], self.degrees[1], size=m))
        c, s = _snap(np.cos(theta)), _snap(np.sin(theta))
        return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], 1)  # (m, 2, 2)

    def _args(self) -> dict[str, Any]:
        return {"degrees": self.degrees, "interpolation": self.interpolation, "fill": self.fill}


class RandomShear(_RandomAffine):
    """Shear each example horizontally by an angle ``phi ~ U(-shear, shear)`` degrees (or
    ``U(lo, hi)``): ``x -> x + tan(phi) y`` about the centre, so for phi > 0 rows below the
    centre slide right and rows above slide left; ``|phi| < 90``.
    """

    def __init__(self, shear: float | tuple[float, float], interpolation: str = "nearest",
                 fill: float = 0.0) -> None:
        self.shear = check_range("RandomShear", "shear", shear, limit=90.0)
        super().__init__(interpolation, fill)

    def matrices(self, m: int) -> np.ndarray:
        phi = np.deg2rad(generator().uniform(self.shear[0], self.shear[1], size=m))
        t = _snap(np.tan(phi))
        A = np.zeros((m, 2, 2))
        A[:, 0, 0] = A[:, 1, 1] = 1.0
        A[:, 1, 0] = -t  # read x_src = x - tan(phi) y
        return A

    def _args(self) -> dict[str, Any]:
        return {"shear": self.shear, "interpolation": self.interpolation, "fill": self.fill}
