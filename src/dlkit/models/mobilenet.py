"""MobileNet (Howard et al., 2017), as the notes: depthwise-separable convolutions — a
depthwise f x f convolution (one filter per channel) then a pointwise 1x1 convolution —
cost n_C_prev * f^2 + n_C_prev * n_C multiplications per position instead of
n_C_prev * f^2 * n_C."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlkit.nn.activation import ReLU
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d, DepthwiseConv2d
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm2d
from dlkit.nn.pool import GlobalAvgPool2d
from dlkit.tensor import Tensor


@register
class DepthwiseSeparable(Module):
    """[3x3 DEPTHWISE (stride s), BN, ReLU] -> [1x1 CONV n_C, BN, ReLU]."""

    def __init__(self, n_C_prev: int, n_C: int, stride: int = 1) -> None:
        super().__init__()
        self.n_C_prev, self.n_C, self.stride = n_C_prev, n_C, stride
        self.block = Sequential(DepthwiseConv2d(n_C_prev, 3, stride=stride, padding=1,
                                                bias=False), BatchNorm2d(n_C_prev), ReLU(),
                                Conv2d(n_C_prev, n_C, 1, bias=False), BatchNorm2d(n_C), ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)

    def get_config(self) -> dict[str, Any]:
        return {"n_C_prev": self.n_C_prev, "n_C": self.n_C, "stride": self.stride}


@register
class MobileNet(Module):
    """3x3 CONV (stride 2 unless ``small_input``) -> depthwise-separable blocks
    ``(channels, stride)`` -> global average pool -> FC. The default blocks are MobileNet
    v1's 13, scaled by ``width`` (the width multiplier alpha)."""

    V1 = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))

    def __init__(self, n_classes: int = 1000, in_channels: int = 3, width: float = 1.0,
                 blocks: Sequence[Sequence[int]] | None = None, small_input: bool = False) -> None:
        super().__init__()
        self.n_classes, self.in_channels, self.width = n_classes, in_channels, width
        self.small_input = small_input
        self.blocks = [list(b) for b in (blocks if blocks is not None else self.V1)]
        c = max(1, int(32 * width))
        layers: list[Module] = [Conv2d(in_channels, c, 3, stride=1 if small_input else 2,
                                       padding=1, bias=False), BatchNorm2d(c), ReLU()]
        for channels, stride in self.blocks:
            n = max(1, int(channels * width))
            layers.append(DepthwiseSeparable(c, n, stride))
            c = n
        layers += [GlobalAvgPool2d(), Linear(c, n_classes, init="xavier")]
        self.net = Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def get_config(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes, "in_channels": self.in_channels,
                "width": self.width, "blocks": self.blocks, "small_input": self.small_input}
