"""Flatten: (m, ...) -> (m, n), e.g. between convolutions and dense layers."""

from __future__ import annotations

from typing import Any

from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.ops.shape import flatten
from dlkit.tensor import Tensor


@register
class Flatten(Module):
    def __init__(self, start_dim: int = 1) -> None:
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x: Tensor) -> Tensor:
        return flatten(x, self.start_dim)

    def get_config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim}
