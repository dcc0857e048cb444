"""Region-of-interest pooling, the Fast R-CNN building blocks, channels-last.

x (m, n_H, n_W, C) feature maps; rois (K, 5) rows (batch index, x1, y1, x2, y2) in image
pixels, scaled by ``spatial_scale`` to feature-map pixels; output (K, p_h, p_w, C).

- ``roi_pool`` (Fast R-CNN): the ROI rounded to whole cells, start = round(x1 s),
  end = round(x2 s), size max(end - start + 1, 1), cut into p_h x p_w bins
  [floor(i size / p), ceil((i + 1) size / p)); each bin's max (0 for an empty bin). Backward:
  the gradient goes to the arg max of each bin.
- ``roi_align`` (Mask R-CNN): no rounding; each bin averages ``sampling_ratio``^2 bilinear
  samples at regularly spaced points; ``aligned`` shifts by half a pixel (pixel centres).
  Backward: each sample's gradient is spread over its 4 neighbours with the bilinear weights.

Both follow torchvision's definitions (with a fixed sampling ratio for roi_align). Gradients
are accumulated with one ``bincount`` over flat indices (no per-element Python loop).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from dlkit.backend import array_module
from dlkit.errors import ShapeError
from dlkit.tensor import Function, Tensor, as_tensor


def _scatter_add(size: int, index: Any, values: Any, dtype: Any) -> Any:
    xp = array_module(values)
    return xp.bincount(index.ravel(), weights=values.ravel(), minlength=size).astype(dtype)


class RoIPool(Function):
    """Max over each bin of the rounded ROI; gradient to the arg max."""

    def __init__(self, rois: Any, output_size: tuple[int, int], spatial_scale: float) -> None:
        self.rois, self.output_size, self.scale = rois, output_size, spatial_scale

    def forward(self, x):
        xp = array_module(x)
        m, n_h, n_w, c = x.shape
        p_h, p_w = self.output_size
        r = self.rois
        b = r[:, 0].astype(np.int64)
        start_w, start_h = xp.round(r[:, 1] * self.scale), xp.round(r[:, 2] * self.scale)
        end_w, end_h = xp.round(r[:, 3] * self.scale), xp.round(r[:, 4] * self.scale)
        roi_w = xp.maximum(end_w - start_w + 1, 1)
        roi_h = xp.maximum(end_h - start_h + 1, 1)

        def bins(start, size, p, n):
            i = xp.arange(p)
            lo = xp.floor(i[None] * size[:, None] / p) + start[:, None]
            hi = xp.ceil((i[None] + 1) * size[:, None] / p) + start[:, None]
            return (xp.clip(lo, 0, n).astype(np.int64), xp.clip(hi, 0, n).astype(np.int64))

        h_lo, h_hi = bins(start_h, roi_h, p_h, n_h)  # (K, p_h)
        w_lo, w_hi = bins(start_w, roi_w, p_w, n_w)
        max_h = int((h_hi - h_lo).max()) if h_lo.size else 0
        max_w = int((w_hi - w_lo).max()) if w_lo.size else 0
        k = len(r)
        best = xp.full((k, p_h, p_w, c), -xp.inf, dtype=x.dtype)
        arg = xp.full((k, p_h, p_w, c), -1, dtype=np.int64)
        flat = x.reshape(-1, c)
        for u, v in itertools.product(range(max_h), range(max_w)):  # offsets inside a bin
            hh, ww = h_lo + u, w_lo + v  # (K, p_h), (K, p_w)
            valid = ((hh < h_hi)[:, :, None] & (ww < w_hi)[:, None, :])  # (K, p_h, p_w)
            pos = ((b[:, None, None] * n_h + xp.minimum(hh, n_h - 1)[:, :, None]) * n_w
                   + xp.minimum(ww, n_w - 1)[:, None, :])  # flat (m, H, W) index
            vals = flat[pos]  # (K, p_h, p_w, C)
            better = valid[..., None] & (vals > best)
            best = xp.where(better, vals, best)
            arg = xp.where(better, pos[..., None], arg)
        empty = arg < 0
        self.arg, self.empty, self.x_shape = arg, empty, x.shape
        return xp.where(empty, 0, best).astype(x.dtype)

    def backward(self, gy):
        xp = array_module(gy)
        m, n_h, n_w, c = self.x_shape
        channel = xp.arange(c)
        index = xp.where(self.empty, 0, self.arg * c + channel)
        g = xp.where(self.empty, 0, gy)
        return _scatter_add(m * n_h * n_w * c, index, g, gy.dtype).reshape(self.x_shape)


class RoIAlign(Function):
    """Mean of bilinear samples per bin; gradient spread back with the bilinear weights."""

    def __init__(self, rois: Any, output_size: tuple[int, int], spatial_scale: float,
                 sampling_ratio: int, aligned: bool) -> None:
        self.rois, self.output_size, self.scale = rois, output_size, spatial_scale
        self.ratio, self.aligned = sampling_ratio, aligned

    def _axis(self, start, end, p, n, xp):
        """Sample coordinates (K, p, s) on one axis -> low/high indices and weights."""
        size = end - start
        if not self.aligned:
            size = xp.maximum(size, 1.0)
        s = self.ratio
        i = xp.arange(p)[None, :, None]
        a = xp.arange(s)[None, None, :]
        coord = start[:, None, None] + (i + (a + 0.5) / s) * (size[:, None, None] / p)
        outside = (coord < -1.0) | (coord > n)
        coord = xp.maximum(coord, 0.0)
        low = xp.floor(coord).astype(np.int64)
        at_edge = low >= n - 1
        low = xp.where(at_edge, n - 1, low)
        high = xp.where(at_edge, n - 1, low + 1)
        coord = xp.where(at_edge, low.astype(coord.dtype), coord)
        frac = coord - low
        keep = (~outside).astype(coord.dtype)
        return low, high, (1 - frac) * keep, frac * keep

    def forward(self, x):
        xp = array_module(x)
        m, n_h, n_w, c = x.shape
        p_h, p_w = self.output_size
        r = self.rois.astype(np.float64)
        offset = 0.5 if self.aligned else 0.0
        x1, y1 = r[:, 1] * self.scale - offset, r[:, 2] * self.scale - offset
        x2, y2 = r[:, 3] * self.scale - offset, r[:, 4] * self.scale - offset
        yl, yh, wyl, wyh = self._axis(y1, y2, p_h, n_h, xp)  # (K, p_h, s)
        xl, xh, wxl, wxh = self._axis(x1, x2, p_w, n_w, xp)  # (K, p_w, s)
        b = r[:, 0].astype(np.int64)[:, None, None, None, None]
        s2 = float(self.ratio * self.ratio)
        positions, weights = [], []
        for ys, wy in ((yl, wyl), (yh, wyh)):
            for xs, wx in ((xl, wxl), (xh, wxh)):
                # (K, p_h, s, p_w, s) flat positions and weights
                positions.append((b * n_h + ys[:, :, :, None, None]) * n_w
                                 + xs[:, None, None, :, :])
                weights.append(wy[:, :, :, None, None] * wx[:, None, None, :, :] / s2)
        flat = x.reshape(-1, c)
        y = sum(flat[pos] * w[..., None].astype(x.dtype) for pos, w in zip(positions, weights))
        self.positions, self.weights, self.x_shape = positions, weights, x.shape
        return y.sum(axis=(2, 4)).astype(x.dtype)  # (K, p_h, p_w, C)

    def backward(self, gy):
        xp = array_module(gy)
        m, n_h, n_w, c = self.x_shape
        channel = xp.arange(c)
        g = gy[:, :, None, :, None, :]  # (K, p_h, 1, p_w, 1, C)
        index = xp.concatenate([(pos[..., None] * c + channel).ravel()
                                for pos in self.positions])
        values = xp.concatenate([(g * w[..., None]).ravel() for w in self.weights])
        return _scatter_add(m * n_h * n_w * c, index, values, gy.dtype).reshape(self.x_shape)


def _check(name: str, x: Tensor, rois: Any, output_size: Any) -> tuple[Any, tuple[int, int]]:
    if x.ndim != 4:
        raise ShapeError(f"{name}: expected feature maps (m, n_H, n_W, C), got {x.shape}")
    xp = array_module(x.data)
    r = xp.asarray(rois.data if isinstance(rois, Tensor) else rois, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != 5:
        hint = "; boxes (K, 4) of one image? prepend a column of batch indices" \
            if r.ndim == 2 and r.shape[1] == 4 else ""
        raise ShapeError(f"{name}: expected rois (K, 5) as (batch index, x1, y1, x2, y2), got "
                         f"{tuple(r.shape)}{hint}")
    if r.size:
        b = r[:, 0]
        if bool((b < 0).any() or (b >= x.shape[0]).any() or (b != xp.round(b)).any()):
            raise ValueError(f"{name}: roi batch indices must be integers in [0, {x.shape[0]})")
        if bool((r[:, 3] < r[:, 1]).any() or (r[:, 4] < r[:, 2]).any()):
            raise ValueError(f"{name}: a roi has x2 < x1 or y2 < y1; rois are (batch index, x1, "
                             "y1, x2, y2)")
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{name}: expected output_size a positive int or pair, got "
                         f"{output_size!r}")
    return r, (int(size[0]), int(size[1]))


def roi_pool(x: Any, rois: Any, output_size: Any, spatial_scale: float = 1.0) -> Tensor:
    """Fast R-CNN ROI max pooling: x (m, n_H, n_W, C), rois (K, 5) -> (K, p_h, p_w, C)."""
    x = as_tensor(x)
    r, size = _check("roi_pool", x, rois, output_size)
    return RoIPool(r, size, float(spatial_scale))(x)


def roi_align(x: Any, rois: Any, output_size: Any, spatial_scale: float = 1.0,
              sampling_ratio: int = 2, aligned: bool = False) -> Tensor:
    """ROI Align: x (m, n_H, n_W, C), rois (K, 5) -> (K, p_h, p_w, C), each bin the mean of
    ``sampling_ratio``^2 bilinear samples."""
    x = as_tensor(x)
    r, size = _check("roi_align", x, rois, output_size)
    if int(sampling_ratio) < 1:
        raise ValueError(f"roi_align: expected sampling_ratio >= 1, got {sampling_ratio} "
                         "(the adaptive ratio of torchvision is not supported)")
    return RoIAlign(r, size, float(spatial_scale), int(sampling_ratio), bool(aligned))(x)
