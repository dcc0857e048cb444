"""Convolution layers, channels-last as the notes: Conv1d, Conv2d, Conv3d, DepthwiseConv2d."""

from __future__ import annotations

from typing import Any

from dlkit.nn import init as initializers
from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.nn.parameter import Parameter
from dlkit.ops import conv as C
from dlkit.tensor import Tensor


class _ConvNd(Module):
    """``weight`` (*f, n_C_prev, n_C) as the notes' W, ``bias`` (n_C,) zeros; He init."""

    dims = 2
    op = staticmethod(C.conv2d)

    def __init__(self, n_C_prev: int, n_C: int, f: Any, stride: Any = 1, padding: Any = 0,
                 bias: bool = True, init: str = "he", dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if n_C_prev <= 0 or n_C <= 0:
            raise ValueError(f"{name}: expected positive channel counts, got n_C_prev="
                             f"{n_C_prev}, n_C={n_C}")
        kernel = C._tuple(f, self.dims, "f", name)
        self.n_C_prev, self.n_C, self.f = n_C_prev, n_C, kernel
        self.stride, self.padding, self.init_name = stride, padding, init
        self.weight = Parameter(initializers.get(init)(kernel + (n_C_prev, n_C), dtype))
        self.bias = Parameter(initializers.zeros((n_C,), dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.n_C_prev}, {self.n_C}, f={self.f}, stride={self.stride}, "
                f"padding={self.padding!r}")

    def get_config(self) -> dict[str, Any]:
        return {"n_C_prev": self.n_C_prev, "n_C": self.n_C, "f": list(self.f),
                "stride": self.stride if isinstance(self.stride, int) else list(self.stride),
                "padding": self.padding if isinstance(self.padding, (int, str))
                else list(self.padding),
                "bias": self.bias is not None, "init": self.init_name,
                "dtype": self.weight.dtype.name}


@register
class Conv1d(_ConvNd):
    """1-D convolution over (m, n, n_C_prev) sequences."""

    dims = 1
    op = staticmethod(C.conv1d)


@register
class Conv2d(_ConvNd):
    """2-D convolution over (m, n_H, n_W, n_C_prev) images: W (f, f, n_C_prev, n_C)."""

    dims = 2
    op = staticmethod(C.conv2d)


@register
class Conv3d(_ConvNd):
    """3-D convolution over (m, n_D, n_H, n_W, n_C_prev) volumes."""

    dims = 3
    op = staticmethod(C.conv3d)


@register
class DepthwiseConv2d(Module):
    """One f x f filter per channel, W (f, f, n_C); with a 1x1 Conv2d after it, a
    depthwise-separable convolution (MobileNet)."""

    def __init__(self, n_C: int, f: int, stride: Any = 1, padding: Any = 0, bias: bool = True,
                 init: str = "he", dtype: Any = None) -> None:
        super().__init__()
        self.n_C, self.f, self.stride, self.padding, self.init_name = n_C, f, stride, padding, init
        self.weight = Parameter(initializers.get(init)((f, f, 1, n_C), dtype).reshape(f, f, n_C))
        self.bias = Parameter(initializers.zeros((n_C,), dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return C.depthwise_conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"{self.n_C}, f={self.f}, stride={self.stride}, padding={self.padding!r}"

    def get_config(self) -> dict[str, Any]:
        return {"n_C": self.n_C, "f": self.f, "stride": self.stride, "padding": self.padding,
                "bias": self.bias is not None, "init": self.init_name,
                "dtype": self.weight.dtype.name}
