"""Transposed convolution layer (U-Net's up-sampling), channels-last."""

from __future__ import annotations

from typing import Any

from dlkit.nn import init as initializers
from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.nn.parameter import Parameter
from dlkit.ops.conv import _tuple
from dlkit.ops.conv_transpose import conv_transpose2d
from dlkit.tensor import Tensor


@register
class ConvTranspose2d(Module):
    """(m, n_H, n_W, n_C_prev) -> (m, (n_H - 1) s + f - 2p + output_padding, ..., n_C).

    ``weight`` (f, f, n_C, n_C_prev) (Keras' Conv2DTranspose layout; PyTorch's
    (n_C_prev, n_C, f, f) is ``weight.transpose(2, 3, 1, 0)`` of it), ``bias`` (n_C,) zeros;
    He init over the n_C_prev inputs each output sums."""

    def __init__(self, n_C_prev: int, n_C: int, f: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, bias: bool = True, init: str = "he",
                 dtype: Any = None) -> None:
        super().__init__()
        if n_C_prev <= 0 or n_C <= 0:
            raise ValueError(f"ConvTranspose2d: expected positive channel counts, got "
                             f"n_C_prev={n_C_prev}, n_C={n_C}")
        kernel = _tuple(f, 2, "f", "ConvTranspose2d")
        self.n_C_prev, self.n_C, self.f = n_C_prev, n_C, kernel
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.init_name = init
        # initialized as a conv2d (f, f, n_C_prev, n_C), stored as (f, f, n_C, n_C_prev)
        w = initializers.get(init)(kernel + (n_C_prev, n_C), dtype)
        self.weight = Parameter(w.swapaxes(2, 3).copy())
        self.bias = Parameter(initializers.zeros((n_C,), dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self.output_padding)

    def extra_repr(self) -> str:
        return (f"{self.n_C_prev}, {self.n_C}, f={self.f}, stride={self.stride}, "
                f"padding={self.padding!r}")

    def get_config(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return v if isinstance(v, (int, str)) else list(v)

        return {"n_C_prev": self.n_C_prev, "n_C": self.n_C, "f": list(self.f),
                "stride": plain(self.stride), "padding": plain(self.padding),
                "output_padding": plain(self.output_padding), "bias": self.bias is not None,
                "init": self.init_name, "dtype": self.weight.dtype.name}
