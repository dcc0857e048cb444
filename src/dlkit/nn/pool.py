"""Pooling layers (channels-last) and zero padding."""

from __future__ import annotations

from typing import Any

from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.ops import pool as P
from dlkit.ops.conv import zero_pad
from dlkit.tensor import Tensor


class _Pool(Module):
    op = staticmethod(P.max_pool2d)

    def __init__(self, f: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.f, self.stride, self.padding = f, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x, self.f, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"f={self.f}, stride={self.stride if self.stride is not None else self.f}"

    def get_config(self) -> dict[str, Any]:
        return {"f": self.f, "stride": self.stride, "padding": self.padding}


@register
class MaxPool1d(_Pool):
    op = staticmethod(P.max_pool1d)


@register
class MaxPool2d(_Pool):
    """Max over f x f windows, stride s (default f): the notes' max pooling."""

    op = staticmethod(P.max_pool2d)


@register
class MaxPool3d(_Pool):
    op = staticmethod(P.max_pool3d)


@register
class AvgPool1d(_Pool):
    op = staticmethod(P.avg_pool1d)


@register
class AvgPool2d(_Pool):
    """Mean over f x f windows, stride s (default f)."""

    op = staticmethod(P.avg_pool2d)


@register
class AvgPool3d(_Pool):
    op = staticmethod(P.avg_pool3d)


@register
class GlobalAvgPool2d(Module):
    """(m, n_H, n_W, C) -> (m, C): the mean of each channel (ResNet's, Inception's head)."""

    def forward(self, x: Tensor) -> Tensor:
        return P.global_avg_pool(x)

    def get_config(self) -> dict[str, Any]:
        return {}


@register
class ZeroPad2d(Module):
    """The notes' zero_pad on the spatial axes: an int p, or ((top, bottom), (left, right))."""

    def __init__(self, pad: Any) -> None:
        super().__init__()
        self.pad = pad

    def forward(self, x: Tensor) -> Tensor:
        return zero_pad(x, self.pad)

    def extra_repr(self) -> str:
        return f"{self.pad!r}"

    def get_config(self) -> dict[str, Any]:
        return {"pad": self.pad if isinstance(self.pad, int) else [list(p) for p in self.pad]}
