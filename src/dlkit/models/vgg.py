"""VGG-16 and VGG-19 (Simonyan & Zisserman, 2015), as the notes: only CONV 3x3 same, stride 1
and MAXPOOL 2x2 stride 2, channels 64 -> 128 -> 256 -> 512 -> 512, then FC 4096, 4096, 1000;
138M (VGG-16) and 144M (VGG-19) parameters at 224x224x3."""

from __future__ import annotations

from typing import Any

from dlkit.nn.activation import ReLU
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.dropout import Dropout
from dlkit.nn.flatten import Flatten
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.pool import MaxPool2d
from dlkit.tensor import Tensor

CONFIGS = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}  # convolutions per block
WIDTHS = (64, 128, 256, 512, 512)


@register
class VGG(Module):
    """``depth`` 16 or 19; ``input_size`` a multiple of 32 (224 as the paper; 32 for CIFAR-
    sized images, where the five poolings leave 1x1x512)."""

    def __init__(self, depth: int = 16, n_classes: int = 1000, in_channels: int = 3,
                 input_size: int = 224, hidden: int = 4096, dropout: float = 0.5) -> None:
        super().__init__()
        if depth not in CONFIGS:
            raise ValueError(f"VGG: expected depth 16 or 19, got {depth}")
        if input_size % 32:
            raise ValueError(f"VGG: expected input_size a multiple of 32, got {input_size}")
        self.depth, self.n_classes, self.in_channels = depth, n_classes, in_channels
        self.input_size, self.hidden, self.dropout = input_size, hidden, dropout
        layers: list[Module] = []
        c = in_channels
        for n_convs, width in zip(CONFIGS[depth], WIDTHS):
            for _ in range(n_convs):
                layers += [Conv2d(c, width, 3, padding=1), ReLU()]
                c = width
            layers.append(MaxPool2d(2))
        layers.append(Flatten())
        self.features = Sequential(*layers)
        side = input_size // 32
        self.classifier = Sequential(
            Linear(side * side * 512, hidden), ReLU(), Dropout(dropout),
            Linear(hidden, hidden), ReLU(), Dropout(dropout),
            Linear(hidden, n_classes, init="xavier"))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))

    def get_config(self) -> dict[str, Any]:
        return {"depth": self.depth, "n_classes": self.n_classes,
                "in_channels": self.in_channels, "input_size": self.input_size,
                "hidden": self.hidden, "dropout": self.dropout}


def vgg16(**kwargs: Any) -> VGG:
    return VGG(16, **kwargs)


def vgg19(**kwargs: Any) -> VGG:
    return VGG(19, **kwargs)
