"""LeNet-5 (LeCun et al., 1998), as the notes: 32x32x1 -> CONV 5x5 (6) -> POOL 2 -> CONV 5x5 (16)
-> POOL 2 -> FC 120 -> FC 84 -> 10; about 60k parameters."""

from __future__ import annotations

from typing import Any

from dlkit.models.mlp import ACTIVATIONS
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.flatten import Flatten
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.pool import AvgPool2d, MaxPool2d
from dlkit.tensor import Tensor


@register
class LeNet5(Module):
    """``input_size`` 32 as the paper, or 28 (MNIST): the first convolution then pads by 2.
    The paper's tanh and average pooling by default; ``activation="relu", pool="max"`` is the
    modern variant."""

    def __init__(self, n_classes: int = 10, in_channels: int = 1, input_size: int = 32,
                 activation: str = "tanh", pool: str = "avg") -> None:
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(f"LeNet5: expected input_size 32 (or 28, padded), got {input_size}")
        self.n_classes, self.in_channels, self.input_size = n_classes, in_channels, input_size
        self.activation, self.pool = activation, pool
        act = ACTIVATIONS[activation]
        pool_cls = {"avg": AvgPool2d, "max": MaxPool2d}[pool]
        self.features = Sequential(
            Conv2d(in_channels, 6, 5, padding=2 if input_size == 28 else 0), act(), pool_cls(2),
            Conv2d(6, 16, 5), act(), pool_cls(2), Flatten())
        self.classifier = Sequential(Linear(16 * 5 * 5, 120), act(), Linear(120, 84), act(),
                                     Linear(84, n_classes, init="xavier"))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))

    def get_config(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes, "in_channels": self.in_channels,
                "input_size": self.input_size, "activation": self.activation,
                "pool": self.pool}
