"""Residual networks (He et al., 2016), as the notes: a[l+2] = g(z[l+2] + a[l]).

- ``IdentityBlock`` and ``ConvolutionalBlock``: the bottleneck blocks of the course's ResNet-50
  exercise (1x1 -> f x f -> 1x1 with batch norm; the convolutional block's shortcut is a
  strided 1x1 convolution + batch norm, for when the size changes).
- ``ResNet50``: the course's network (64x64x3 signs, 6 classes; 23.6M parameters).
- ``BasicBlock`` and ``ResNetSmall``: two 3x3 convolutions per block, for 32x32 images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlkit.nn.activation import ReLU
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.flatten import Flatten
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm2d
from dlkit.nn.pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d, ZeroPad2d
from dlkit.ops.activation import relu
from dlkit.tensor import Tensor


@register
class IdentityBlock(Module):
    """x -> [1x1 F1, BN, ReLU] -> [f x f same F2, BN, ReLU] -> [1x1 F3, BN] -> + x -> ReLU.
    The input must already have F3 channels."""

    def __init__(self, n_C_prev: int, filters: Sequence[int], f: int = 3) -> None:
        super().__init__()
        f1, f2, f3 = filters
        if n_C_prev != f3:
            raise ValueError(f"IdentityBlock: the shortcut adds the input ({n_C_prev} channels) "
                             f"to the output ({f3}); use ConvolutionalBlock to change the size")
        self.n_C_prev, self.filters, self.f = n_C_prev, list(filters), f
        self.main = Sequential(Conv2d(n_C_prev, f1, 1), BatchNorm2d(f1), ReLU(),
                               Conv2d(f1, f2, f, padding="same"), BatchNorm2d(f2), ReLU(),
                               Conv2d(f2, f3, 1), BatchNorm2d(f3))

    def forward(self, x: Tensor) -> Tensor:
        return relu(self.main(x) + x)

    def get_config(self) -> dict[str, Any]:
        return {"n_C_prev": self.n_C_prev, "filters": self.filters, "f": self.f}


@register
class ConvolutionalBlock(Module):
    """As the identity block with a stride-s first 1x1 convolution, and the shortcut
    [1x1 F3 stride s, BN] so both branches have the new size."""

    def __init__(self, n_C_prev: int, filters: Sequence[int], f: int = 3, s: int = 2) -> None:
        super().__init__()
        f1, f2, f3 = filters
        self.n_C_prev, self.filters, self.f, self.s = n_C_prev, list(filters), f, s
        self.main = Sequential(Conv2d(n_C_prev, f1, 1, stride=s), BatchNorm2d(f1), ReLU(),
                               Conv2d(f1, f2, f, padding="same"), BatchNorm2d(f2), ReLU(),
                               Conv2d(f2, f3, 1), BatchNorm2d(f3))
        self.shortcut = Sequential(Conv2d(n_C_prev, f3, 1, stride=s), BatchNorm2d(f3))

    def forward(self, x: Tensor) -> Tensor:
        return relu(self.main(x) + self.shortcut(x))

    def get_config(self) -> dict[str, Any]:
        return {"n_C_prev": self.n_C_prev, "filters": self.filters, "f": self.f, "s": self.s}


@register
class ResNet50(Module):
    """The course's ResNet-50: ZEROPAD 3 -> CONV 7x7/2 (64) -> BN -> ReLU -> MAXPOOL 3/2 ->
    stages of [conv block + identity blocks] x (3, 4, 6, 3) -> AVGPOOL 2 -> FC.
    ``input_size`` 64 as the course (224 as the paper, with a 7x7 average pool)."""

    STAGES = ((64, 64, 256), (128, 128, 512), (256, 256, 1024), (512, 512, 2048))
    BLOCKS = (3, 4, 6, 3)

    def __init__(self, n_classes: int = 6, in_channels: int = 3, input_size: int = 64) -> None:
        super().__init__()
        if input_size % 32:
            raise ValueError(f"ResNet50: expected input_size a multiple of 32, got "
                             f"{input_size}")
        self.n_classes, self.in_channels, self.input_size = n_classes, in_channels, input_size
        layers: list[Module] = [ZeroPad2d(3), Conv2d(in_channels, 64, 7, stride=2),
                                BatchNorm2d(64), ReLU(), MaxPool2d(3, 2)]
        c = 64
        for i, (filters, n) in enumerate(zip(self.STAGES, self.BLOCKS)):
            layers.append(ConvolutionalBlock(c, filters, 3, s=1 if i == 0 else 2))
            c = filters[-1]
            layers += [IdentityBlock(c, filters, 3) for _ in range(n - 1)]
        side = self._final_side(input_size)
        layers += [AvgPool2d(side), Flatten(), Linear(2048, n_classes, init="xavier")]
        self.net = Sequential(*layers)

    @staticmethod
    def _final_side(n: int) -> int:
        n = (n + 6 - 7) // 2 + 1  # pad 3, conv 7/2
        n = (n - 3) // 2 + 1  # max pool 3/2
        for _ in range(3):  # stride-2 1x1 convolutions of stages 3-5
            n = (n - 1) // 2 + 1
        return n

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def get_config(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes, "in_channels": self.in_channels,
                "input_size": self.input_size}


@register
class BasicBlock(Module):
    """x -> [3x3 CONV (stride s), BN, ReLU] -> [3x3 CONV, BN] -> + shortcut(x) -> ReLU; the
    shortcut is the identity, or a 1x1 CONV + BN when the size or channels change."""

    def __init__(self, n_C_prev: int, n_C: int, stride: int = 1) -> None:
        super().__init__()
        self.n_C_prev, self.n_C, self.stride = n_C_prev, n_C, stride
        self.main = Sequential(Conv2d(n_C_prev, n_C, 3, stride=stride, padding=1, bias=False),
                               BatchNorm2d(n_C), ReLU(),
                               Conv2d(n_C, n_C, 3, padding=1, bias=False), BatchNorm2d(n_C))
        self.shortcut = None
        if stride != 1 or n_C_prev != n_C:
            self.shortcut = Sequential(Conv2d(n_C_prev, n_C, 1, stride=stride, bias=False),
                                       BatchNorm2d(n_C))

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        return relu(self.main(x) + skip)

    def get_config(self) -> dict[str, Any]:
        return {"n_C_prev": self.n_C_prev, "n_C": self.n_C, "stride": self.stride}


@register
class ResNetSmall(Module):
    """For 32x32 images: 3x3 CONV (widths[0]) -> BN -> ReLU -> stages of BasicBlocks (the
    first block of each later stage halves the size) -> global average pool -> FC."""

    def __init__(self, n_classes: int = 10, in_channels: int = 3,
                 widths: Sequence[int] = (16, 32, 64), blocks: Sequence[int] = (2, 2, 2)) -> None:
        super().__init__()
        if len(widths) != len(blocks):
            raise ValueError(f"ResNetSmall: widths {widths} and blocks {blocks} differ in "
                             "length")
        self.n_classes, self.in_channels = n_classes, in_channels
        self.widths, self.blocks = list(widths), list(blocks)
        layers: list[Module] = [Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                BatchNorm2d(widths[0]), ReLU()]
        c = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(BasicBlock(c, w, stride=2 if i > 0 and j == 0 else 1))
                c = w
        layers += [GlobalAvgPool2d(), Linear(c, n_classes, init="xavier")]
        self.net = Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def get_config(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes, "in_channels": self.in_channels,
                "widths": self.widths, "blocks": self.blocks}
