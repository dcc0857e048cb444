"""Inception (Szegedy et al., 2015), as the notes: 1x1, 3x3 and 5x5 convolutions and a max
pool side by side, their outputs concatenated along the channels; 1x1 "bottleneck"
convolutions cut the cost of the 3x3 and 5x5 branches."""

from __future__ import annotations

from typing import Any

from dlkit.nn.activation import ReLU
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm2d
from dlkit.nn.pool import GlobalAvgPool2d, MaxPool2d
from dlkit.ops.shape import concat
from dlkit.tensor import Tensor


def _conv_relu(c_in: int, c_out: int, f: int) -> Sequential:
    return Sequential(Conv2d(c_in, c_out, f, padding="same"), ReLU())


@register
class InceptionModule(Module):
    """Branches [1x1 c1] | [1x1 c3r -> 3x3 c3] | [1x1 c5r -> 5x5 c5] | [MAXPOOL 3/1 same -> 1x1
    pp], concatenated: c1 + c3 + c5 + pp channels, same height and width. The notes' example
    (28x28x192 -> 64 + 128 + 32 + 32 = 256 channels) is InceptionModule(192, 64, 96, 128, 16,
    32, 32)."""

    def __init__(self, n_C_prev: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int,
                 pool_proj: int) -> None:
        super().__init__()
        self.args = [n_C_prev, c1, c3_reduce, c3, c5_reduce, c5, pool_proj]
        self.branch1 = _conv_relu(n_C_prev, c1, 1)
        self.branch3 = Sequential(_conv_relu(n_C_prev, c3_reduce, 1), _conv_relu(c3_reduce, c3, 3))
        self.branch5 = Sequential(_conv_relu(n_C_prev, c5_reduce, 1), _conv_relu(c5_reduce, c5, 5))
        self.branch_pool = Sequential(MaxPool2d(3, 1, padding=1), _conv_relu(n_C_prev,
                                                                             pool_proj, 1))
        self.n_C = c1 + c3 + c5 + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        return concat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)],
                      axis=-1)

    def get_config(self) -> dict[str, Any]:
        keys = ("n_C_prev", "c1", "c3_reduce", "c3", "c5_reduce", "c5", "pool_proj")
        return dict(zip(keys, self.args))


@register
class InceptionSmall(Module):
    """A small Inception network for 32x32 images: 3x3 CONV (32) -> BN -> ReLU -> 2 Inception
    modules -> MAXPOOL 2 -> 1 Inception module -> global average pool -> FC."""

    def __init__(self, n_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.n_classes, self.in_channels = n_classes, in_channels
        a = InceptionModule(32, 16, 16, 24, 4, 8, 8)  # 56 channels
        b = InceptionModule(a.n_C, 24, 24, 32, 8, 12, 12)  # 80
        c = InceptionModule(b.n_C, 32, 32, 48, 8, 16, 16)  # 112
        self.net = Sequential(Conv2d(in_channels, 32, 3, padding=1), BatchNorm2d(32), ReLU(),
                              a, b, MaxPool2d(2), c, GlobalAvgPool2d(),
                              Linear(c.n_C, n_classes, init="xavier"))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def get_config(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes, "in_channels": self.in_channels}
