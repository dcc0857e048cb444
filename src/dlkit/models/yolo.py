"""A small YOLO for the synthetic shapes (and any small images): the darknet pattern
[3x3 conv, batch norm, leaky ReLU 0.1, 2x2 max pool] per stage, then a 3x3 conv and a 1x1 conv
to B (5 + C) numbers per cell, read as the output volume (m, S_h, S_w, B, 5 + C) (the course's
ENCODING (m, 19, 19, 5, 85)). S = image side / 2**len(widths)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlkit.errors import ShapeError
from dlkit.nn.activation import LeakyReLU
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm2d
from dlkit.nn.pool import MaxPool2d
from dlkit.tensor import Tensor


@register
class YOLOSmall(Module):
    """(m, n_H, n_W, n_C) images -> (m, n_H / 2**k, n_W / 2**k, n_anchors, 5 + n_classes)."""

    def __init__(self, n_C: int = 3, n_classes: int = 3, n_anchors: int = 3,
                 widths: Sequence[int] = (16, 32, 64, 64), head: int = 128) -> None:
        super().__init__()
        self.n_C, self.n_classes, self.n_anchors = n_C, n_classes, n_anchors
        self.widths, self.head_width = [int(w) for w in widths], int(head)
        layers: list[Module] = []
        c = n_C
        for w in self.widths:
            layers += [Conv2d(c, w, 3, padding=1, bias=False), BatchNorm2d(w), LeakyReLU(0.1),
                       MaxPool2d(2)]
            c = w
        layers += [Conv2d(c, head, 3, padding=1, bias=False), BatchNorm2d(head),
                   LeakyReLU(0.1), Conv2d(head, n_anchors * (5 + n_classes), 1, init="xavier")]
        self.body = Sequential(*layers)

    @property
    def stride(self) -> int:
        """Pixels per grid cell."""
        return 2 ** len(self.widths)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[-1] != self.n_C or x.shape[1] % self.stride or \
                x.shape[2] % self.stride:
            raise ShapeError(f"YOLOSmall: expected images (m, n_H, n_W, {self.n_C}) with sides "
                             f"multiples of {self.stride}, got {x.shape}")
        out = self.body(x)
        m, s_h, s_w, _ = out.shape
        return out.reshape(m, s_h, s_w, self.n_anchors, 5 + self.n_classes)

    def get_config(self) -> dict[str, Any]:
        return {"n_C": self.n_C, "n_classes": self.n_classes, "n_anchors": self.n_anchors,
                "widths": self.widths, "head": self.head_width}
