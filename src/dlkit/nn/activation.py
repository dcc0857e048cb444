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


@register
class GELU(Module):
    """z Phi(z) (the Transformer's feed-forward activation); ``approximate="tanh"`` for the
    tanh form."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: expected approximate 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}
