"""Layers that join branches: Add (a residual connection) and Concatenate (Inception)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlkit.errors import ShapeError
from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.ops.shape import concat
from dlkit.tensor import Tensor


@register
class Add(Module):
    """a + b + ...: the skip connection a[l+2] = g(z[l+2] + a[l]); shapes must match."""

    def forward(self, *xs: Tensor) -> Tensor:
        if len(xs) < 2:
            raise ValueError(f"Add: expected at least 2 inputs, got {len(xs)}")
        shapes = {x.shape for x in xs}
        if len(shapes) != 1:
            raise ShapeError(f"Add: expected inputs of one shape, got {[x.shape for x in xs]}; "
                             "a residual branch that changes the size needs a projection "
                             "(a 1x1 convolution on the shortcut)")
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out

    def get_config(self) -> dict[str, Any]:
        return {}


@register
class Concatenate(Module):
    """Join tensors along ``axis`` (default the channels, -1), as Inception's filter concat."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, xs: Sequence[Tensor] | Tensor, *more: Tensor) -> Tensor:
        items = [xs, *more] if isinstance(xs, Tensor) else list(xs)
        return concat(items, axis=self.axis)

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}
