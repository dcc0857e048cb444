"""Pooling, channels-last: max and average over f x f windows with stride s (any number of
spatial axes), and global average pooling. Output size floor((n - f) / s) + 1, as the notes.

When the windows tile the input exactly (s = f, n divisible by f; the common 2x2 / stride 2),
pooling is one reshape and one reduction; otherwise a loop over the f*f window offsets.
Max pooling's gradient goes to the window's maximum (split evenly between ties). Padding
(an int, a tuple, "valid" or "same") adds -inf for max pooling, zeros for average pooling
(counted in the mean, as PyTorch's default).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from dlkit.backend import array_module
from dlkit.errors import ShapeError
from dlkit.ops.conv import _tuple, resolve_padding, window_slices
from dlkit.tensor import Function, Tensor, as_tensor


def _tiled_shape(x_shape: tuple, kernel: tuple) -> tuple:
    """(m, n1/f1, f1, n2/f2, f2, ..., C): each window on its own axes."""
    shape = [x_shape[0]]
    for n, f in zip(x_shape[1:-1], kernel):
        shape += [n // f, f]
    return tuple(shape) + (x_shape[-1],)


class PoolNd(Function):
    """Max or average over windows ``kernel`` with ``stride`` on the spatial axes."""

    def __init__(self, mode: str, kernel: tuple[int, ...], stride: tuple[int, ...],
                 out: tuple[int, ...]) -> None:
        self.mode, self.kernel, self.stride, self.out = mode, kernel, stride, out

    def forward(self, x):
        xp = array_module(x)
        self.x_shape = x.shape
        d = x.ndim - 2
        self.window_axes = tuple(2 + 2 * i for i in range(d))
        self.tiled = self.kernel == self.stride and all(
            n % f == 0 for n, f in zip(x.shape[1:-1], self.kernel))
        if self.tiled:
            xt = x.reshape(_tiled_shape(x.shape, self.kernel))
            if self.mode == "max":
                y = xt.max(axis=self.window_axes, keepdims=True)
                self.xt, self.y_keep = xt, y
                return y.reshape((x.shape[0],) + self.out + (x.shape[-1],))
            return xt.mean(axis=self.window_axes)
        self.offsets = list(itertools.product(*(range(f) for f in self.kernel)))
        slices = [window_slices(o, self.stride, self.out) for o in self.offsets]
        if self.mode == "max":
            y = x[slices[0]].copy()
            for s in slices[1:]:
                xp.maximum(y, x[s], out=y)
            self.x, self.y = x, y
            return y
        y = xp.zeros((x.shape[0],) + self.out + (x.shape[-1],), dtype=x.dtype)
        for s in slices:
            y += x[s]
        y /= x.dtype.type(len(slices))
        return y

    def backward(self, gy):
        xp = array_module(gy)
        if self.tiled:
            shape = _tiled_shape(self.x_shape, self.kernel)
            keep = list(shape)
            for a in self.window_axes:
                keep[a] = 1
            g = gy.reshape(keep)
            if self.mode == "max":
                mask = self.xt == self.y_keep
                count = mask.sum(axis=self.window_axes, keepdims=True)
                gx = mask * (g / count).astype(gy.dtype, copy=False)
            else:
                gx = xp.broadcast_to(g / gy.dtype.type(np.prod(self.kernel)), shape)
            return gx.reshape(self.x_shape)
        gx = xp.zeros(self.x_shape, dtype=gy.dtype)
        slices = [window_slices(o, self.stride, self.out) for o in self.offsets]
        if self.mode == "avg":
            g = gy / gy.dtype.type(len(slices))
            for s in slices:
                gx[s] += g
            return gx
        count = xp.zeros(self.y.shape, dtype=gy.dtype)
        for s in slices:
            count += self.x[s] == self.y
        g = gy / count
        for s in slices:
            gx[s] += g * (self.x[s] == self.y)
        return gx


def _pool(mode: str, d: int, name: str, x: Any, f: Any, stride: Any, padding: Any = 0) -> Tensor:
    x = as_tensor(x)
    if x.ndim != d + 2:
        layout = {1: "(m, n, C)", 2: "(m, n_H, n_W, C)", 3: "(m, n_D, n_H, n_W, C)"}[d]
        raise ShapeError(f"{name}: expected input {layout} (channels-last), got shape "
                         f"{x.shape}")
    kernel = _tuple(f, d, "f", name)
    stride = kernel if stride is None else _tuple(stride, d, "stride", name)
    if any(k <= 0 for k in kernel) or any(s <= 0 for s in stride):
        raise ValueError(f"{name}: expected f and stride >= 1, got f={f}, stride={stride}")
    pads = resolve_padding(padding, x.shape[1:-1], kernel, stride, name)
    if any(lo or hi for lo, hi in pads):  # max pools over -inf padding, avg counts zeros
        from dlkit.ops.shape import pad

        x = pad(x, [(0, 0), *pads, (0, 0)], -np.inf if mode == "max" else 0.0)
    out = tuple((n - k) // s + 1 for n, k, s in zip(x.shape[1:-1], kernel, stride))
    if any(n <= 0 for n in out):
        raise ShapeError(f"{name}: input {x.shape} is smaller than the window {kernel}")
    return PoolNd(mode, kernel, stride, out)(x)


def max_pool1d(x: Any, f: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over windows of f steps of x (m, n, C); stride defaults to f."""
    return _pool("max", 1, "max_pool1d", x, f, stride, padding)


def max_pool2d(x: Any, f: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over f x f windows of x (m, n_H, n_W, C); stride defaults to f."""
    return _pool("max", 2, "max_pool2d", x, f, stride, padding)


def max_pool3d(x: Any, f: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max pooling of x (m, n_D, n_H, n_W, n_C) over f x f x f windows with ``stride``
    (default f); ``padding`` adds -inf. dx routes each dy to its window's maximum."""
    return _pool("max", 3, "max_pool3d", x, f, stride, padding)


def avg_pool1d(x: Any, f: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Average pooling of x (m, n_L, n_C) over windows of ``f`` with ``stride`` (default f);
    zero ``padding`` is counted in the mean. dx spreads each dy evenly over its window."""
    return _pool("avg", 1, "avg_pool1d", x, f, stride, padding)


def avg_pool2d(x: Any, f: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over f x f windows of x (m, n_H, n_W, C); stride defaults to f."""
    return _pool("avg", 2, "avg_pool2d", x, f, stride, padding)


def avg_pool3d(x: Any, f: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Average pooling of x (m, n_D, n_H, n_W, n_C) over f x f x f windows with ``stride``
    (default f); zero ``padding`` is counted in the mean. dx spreads each dy over its window."""
    return _pool("avg", 3, "avg_pool3d", x, f, stride, padding)


def global_avg_pool(x: Any) -> Tensor:
    """Mean over all spatial axes: (m, ..., C) -> (m, C)."""
    from dlkit.ops.reduction import mean

    x = as_tensor(x)
    if x.ndim < 3:
        raise ShapeError(f"global_avg_pool: expected (m, ..., C) with spatial axes, got "
                         f"{x.shape}")
    return mean(x, axis=tuple(range(1, x.ndim - 1)))
