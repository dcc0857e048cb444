"""Dropout layer: inverted dropout while training, identity in eval mode."""

from __future__ import annotations

from typing import Any

from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.ops.dropout import dropout
from dlkit.tensor import Tensor


@register
class Dropout(Module):
    """Drops each activation with probability ``p`` (keep_prob = 1 - p) while training."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: expected p (the drop probability) in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
