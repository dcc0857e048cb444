"""Activation layers: each calls its op."""

from __future__ import annotations

from typing import Any

from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.ops import activation as F
from dlkit.tensor import Tensor


@register
class Sigmoid(Module):
    def get_config(self) -> dict[str, Any]:
        return {}

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


@register
class Tanh(Module):
    def get_config(self) -> dict[str, Any]:
        return {}

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


@register
class ReLU(Module):
    def get_config(self) -> dict[str, Any]:
        return {}

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


@register
class LeakyReLU(Module):
    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}"

    def get_config(self) -> dict[str, Any]:
        return {"slope": self.slope}


@register
class Softmax(Module):
    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}
