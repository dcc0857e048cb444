"""L2 normalization of vectors: y = x / ||x||_2 (FaceNet's embeddings on the unit sphere)."""

from __future__ import annotations

from typing import Any

from dlkit.backend import array_module
from dlkit.tensor import Function, Tensor, as_tensor


class L2Normalize(Function):
    """y = x / r,  r = sqrt(sum_k x_k^2 + eps) along ``axis``;
    dx = (dy - y (y . dy)) / r  (the projection of dy off y, scaled by 1/r)."""

    def __init__(self, axis: int, eps: float) -> None:
        self.axis, self.eps = axis, eps

    def forward(self, x):
        xp = array_module(x)
        self.r = xp.sqrt((x * x).sum(self.axis, keepdims=True) + x.dtype.type(self.eps))
        self.y = x / self.r
        return self.y

    def backward(self, gy):
        y = self.y
        return (gy - y * (y * gy).sum(self.axis, keepdims=True)) / self.r


def l2_normalize(x: Any, axis: int = -1, eps: float = 1e-12) -> Tensor:
    """``x / sqrt(sum(x^2, axis) + eps)``: rows of (m, d) embeddings to unit length."""
    return L2Normalize(int(axis), float(eps))(as_tensor(x))
