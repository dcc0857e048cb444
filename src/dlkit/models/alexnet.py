"""AlexNet (Krizhevsky et al., 2012), one tower as the notes: 227x227x3 -> CONV 11x11/4 (96)
-> MAXPOOL 3/2 -> CONV 5x5 same (256) -> MAXPOOL 3/2 -> CONV 3x3 same (384, 384, 256)
-> MAXPOOL 3/2 -> 9216 -> FC 4096 -> FC 4096 -> 1000; about 60M parameters."""

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


@register
class AlexNet(Module):
    def __init__(self, n_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        self.n_classes, self.in_channels, self.dropout = n_classes, in_channels, dropout
        self.features = Sequential(
            Conv2d(in_channels, 96, 11, stride=4), ReLU(), MaxPool2d(3, 2),
            Conv2d(96, 256, 5, padding="same"), ReLU(), MaxPool2d(3, 2),
            Conv2d(256, 384, 3, padding="same"), ReLU(),
            Conv2d(384, 384, 3, padding="same"), ReLU(),
            Conv2d(384, 256, 3, padding="same"), ReLU(), MaxPool2d(3, 2), Flatten())
        self.classifier = Sequential(
            Dropout(dropout), Linear(6 * 6 * 256, 4096), ReLU(),
            Dropout(dropout), Linear(4096, 4096), ReLU(), Linear(4096, n_classes, init="xavier"))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))

    def get_config(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes, "in_channels": self.in_channels,
                "dropout": self.dropout}
