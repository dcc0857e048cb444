"""Random cropping (course 4, "Data augmentation"): a random window of each padded example."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.data.transforms._base import Transform, check_pair
from dlkit.errors import ShapeError

PAD_MODES = ("constant", "reflect", "edge", "symmetric")


class RandomCrop(Transform):
    """Pad each image by ``padding`` pixels on every side (zeros with ``mode="constant"``,
    or ``"reflect"``, ``"edge"``, ``"symmetric"`` as ``np.pad``), then cut a random
    ``size`` window out of each example (a fresh offset per example):
    ``(m, n_H, n_W, n_C) -> (m, h, w, n_C)``.

    ``size`` and ``padding`` are an int or a pair ``(height, width)``.
    ``RandomCrop(32, padding=4)`` is the classic CIFAR-10 augmentation.
    """

    def __init__(self, size: int | tuple[int, int], padding: int | tuple[int, int] = 0,
                 mode: str = "constant") -> None:
        self.size = check_pair("RandomCrop", "size", size, minimum=1)
        self.padding = check_pair("RandomCrop", "padding", padding, minimum=0)
        if mode not in PAD_MODES:
            raise ValueError(f"RandomCrop: expected mode in {PAD_MODES}, got {mode!r}")
        self.mode = mode

    def apply(self, X: np.ndarray) -> np.ndarray:
        (h, w), (ph, pw) = self.size, self.padding
        m, n_H, n_W, _ = X.shape
        if h > n_H + 2 * ph or w > n_W + 2 * pw:
            raise ShapeError(f"RandomCrop: a {h}x{w} window does not fit in images of "
                             f"{n_H}x{n_W} padded by {ph}x{pw} to "
                             f"{n_H + 2 * ph}x{n_W + 2 * pw}")
        if self.mode != "constant" and m and (n_H == 0 or n_W == 0):
            raise ShapeError(f"RandomCrop: cannot pad empty images with mode={self.mode!r}")
        Xp = X
        if ph or pw:
            Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0)), mode=self.mode)
        H, W = Xp.shape[1:3]
        corner = generator().integers(0, [H - h + 1, W - w + 1], size=(m, 2))  # (m, 2)
        # every h x w window as a view (m, H-h+1, W-w+1, n_C, h, w); pick one per example
        windows = np.lib.stride_tricks.sliding_window_view(Xp, (h, w), axis=(1, 2))
        picked = windows[np.arange(m), corner[:, 0], corner[:, 1]]  # (m, n_C, h, w)
        return np.ascontiguousarray(picked.transpose(0, 2, 3, 1))

    def _args(self) -> dict[str, Any]:
        return {"size": list(self.size), "padding": list(self.padding), "mode": self.mode}
