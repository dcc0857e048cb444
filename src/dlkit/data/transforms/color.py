"""Color shifting and PCA color augmentation (course 4, "Data augmentation"), per-channel
normalization.

Color shifting adds to each example a random offset per channel (R + r, G + g, B + b);
PCA color augmentation ("fancy PCA", AlexNet) draws that offset along the principal axes of
the training set's pixel colors, so the shift follows the colors that actually vary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.data.transforms._base import (
    Transform,
    check_channels,
    check_clip,
    check_images,
    float_dtype,
    per_channel,
)
from dlkit.errors import ShapeError


def _shifted(X: np.ndarray, delta: np.ndarray, clip: list[float] | None) -> np.ndarray:
    """``X + delta`` with ``delta (m, n_C)`` per example and channel, in X's float dtype."""
    dt = float_dtype(X)
    out = X.astype(dt) + delta.astype(dt)[:, None, None, :]
    return out if clip is None else np.clip(out, clip[0], clip[1], out=out)


class ColorShift(Transform):
    """Color shifting: ``X[i, ..., c] += d[i, c]``, ``d[i, c] ~ U(-max_shift_c, max_shift_c)``,
    one constant per example and channel. ``max_shift`` is a number or one per channel;
    ``clip=(lo, hi)`` keeps the result in range (e.g. ``(0, 1)``)."""

    def __init__(self, max_shift: float | list[float] = 0.1,
                 clip: tuple[float, float] | None = None) -> None:
        self.max_shift = check_channels("ColorShift", "max_shift", max_shift)
        if np.any(np.asarray(self.max_shift) < 0):
            raise ValueError(f"ColorShift: expected max_shift >= 0, got {max_shift!r}")
        self.clip = check_clip("ColorShift", clip)

    def apply(self, X: np.ndarray) -> np.ndarray:
        m, _, _, n_C = X.shape
        scale = per_channel("ColorShift", "max_shift", self.max_shift, n_C)
        delta = generator().uniform(-1.0, 1.0, size=(m, n_C)) * scale
        return _shifted(X, delta, self.clip)

    def _args(self) -> dict[str, Any]:
        return {"max_shift": self.max_shift, "clip": self.clip}


class PCAColorAugmentation(Transform):
    """PCA color augmentation (AlexNet's "fancy PCA"): with ``p_i, lambda_i`` the eigenvectors
    and eigenvalues of the n_C x n_C covariance of the training pixels (``fit``), each example
    gets ``X[i] += sum_j alpha_ij lambda_j p_j``, ``alpha_ij ~ N(0, std)``.

    ``fit(X_train)`` first (or pass ``eigvals``/``eigvecs``, as ``get_config`` records them);
    ``eigvals`` are sorted largest first and ``eigvecs[:, j]`` is ``p_j``.
    """

    eigvals: np.ndarray | None
    eigvecs: np.ndarray | None

    def __init__(self, std: float = 0.1, eigvals: list[float] | None = None,
                 eigvecs: list[list[float]] | None = None,
                 clip: tuple[float, float] | None = None) -> None:
        if isinstance(std, bool) or not isinstance(std, (int, float, np.integer, np.floating)) \
                or std < 0:
            raise ValueError(f"PCAColorAugmentation: expected std >= 0, got {std!r}")
        self.std, self.clip = float(std), check_clip("PCAColorAugmentation", clip)
        self.eigvals = self.eigvecs = None
        if (eigvals is None) != (eigvecs is None):
            raise ValueError("PCAColorAugmentation: expected eigvals and eigvecs together "
                             "(or neither, then call fit)")
        if eigvals is not None:
            vals = np.asarray(eigvals, dtype=np.float64)
            vecs = np.asarray(eigvecs, dtype=np.float64)
            if vals.ndim != 1 or vecs.shape != (vals.size, vals.size):
                raise ShapeError(f"PCAColorAugmentation: expected eigvals (n_C,) and eigvecs "
                                 f"(n_C, n_C), got {vals.shape} and {vecs.shape}")
            self.eigvals, self.eigvecs = vals, vecs

    @property
    def fitted(self) -> bool:
        return self.eigvals is not None

    def fit(self, X: Any) -> PCAColorAugmentation:
        """Eigen-decompose the covariance of the pixel colors of ``X (m, n_H, n_W, n_C)``,
        ``Sigma = 1/(N-1) sum (x - mu)(x - mu)^T`` over all ``N = m n_H n_W`` pixels."""
        X = check_images("PCAColorAugmentation.fit", X)
        pixels = X.reshape(-1, X.shape[-1]).astype(np.float64)
        if len(pixels) < 2:
            raise ValueError(f"PCAColorAugmentation.fit: expected at least 2 pixels, got "
                             f"images of shape {X.shape}")
        pixels -= pixels.mean(axis=0)
        cov = pixels.T @ pixels / (len(pixels) - 1)
        vals, vecs = np.linalg.eigh(cov)  # ascending
        order = np.argsort(vals)[::-1]
        self.eigvals, self.eigvecs = np.clip(vals[order], 0.0, None), vecs[:, order]
        return self

    def apply(self, X: np.ndarray) -> np.ndarray:
        if not self.fitted:
            raise RuntimeError("PCAColorAugmentation: not fitted yet; call fit(X_train) first "
                               "(the principal color axes come from the training set)")
        m, _, _, n_C = X.shape
        if n_C != self.eigvals.size:
            raise ShapeError(f"PCAColorAugmentation: fitted on images with n_C = "
                             f"{self.eigvals.size} channels, got images of shape {X.shape} "
                             f"(n_C = {n_C})")
        alpha = generator().normal(0.0, self.std, size=(m, n_C))
        delta = (alpha * self.eigvals) @ self.eigvecs.T  # (m, n_C): sum_j alpha_j lambda_j p_j
        return _shifted(X, delta, self.clip)

    def _args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"std": self.std}
        if self.fitted:
            args["eigvals"] = self.eigvals.tolist()
            args["eigvecs"] = self.eigvecs.tolist()
        args["clip"] = self.clip
        return args

    def __repr__(self) -> str:
        state = f"eigvals={np.round(self.eigvals, 6).tolist()}" if self.fitted else "not fitted"
        return f"PCAColorAugmentation(std={self.std}, {state}, clip={self.clip})"


class Normalize(Transform):
    """Per-channel normalization ``X[..., c] -> (X[..., c] - mean_c) / std_c`` (deterministic).
    ``mean``/``std`` are numbers or one per channel; ``Normalize.from_data(X_train)`` takes
    them from a training set."""

    def __init__(self, mean: float | list[float], std: float | list[float]) -> None:
        self.mean = check_channels("Normalize", "mean", mean)
        self.std = check_channels("Normalize", "std", std)
        if np.any(np.asarray(self.std) <= 0):
            raise ValueError(f"Normalize: expected std > 0, got {std!r}")

    @classmethod
    def from_data(cls, X: Any) -> Normalize:
        """Mean and standard deviation per channel over all pixels of ``X (m, n_H, n_W, n_C)``
        (a channel with zero spread gets std 1)."""
        X = check_images("Normalize.from_data", X)
        X64 = X.astype(np.float64)
        mean, std = X64.mean(axis=(0, 1, 2)), X64.std(axis=(0, 1, 2))
        return cls(mean.tolist(), np.where(std > 0, std, 1.0).tolist())

    def apply(self, X: np.ndarray) -> np.ndarray:
        n_C = X.shape[-1]
        dt = float_dtype(X)
        mean = per_channel("Normalize", "mean", self.mean, n_C).astype(dt)
        std = per_channel("Normalize", "std", self.std, n_C).astype(dt)
        out = X.astype(dt, order="C")  # a C-ordered copy, changed in place below
        # (X - mean) / std with mean, std repeated along n_W: one long inner loop per row
        # instead of n_C-long ones (the same arithmetic, so the same values)
        rows = out.reshape(-1, X.shape[2] * n_C)
        rows -= np.tile(np.broadcast_to(mean, (n_C,)), X.shape[2])
        rows /= np.tile(np.broadcast_to(std, (n_C,)), X.shape[2])
        return out

    def _args(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std}
