"""A small CNN of the notes' pattern [CONV -> BN -> ReLU -> MAXPOOL] x k -> FC, for any image
size (the default model of ``dlkit train`` on the 8x8 digits)."""

from __future__ import annotations

from collections.abc import Sequence

from dlkit.nn.activation import ReLU
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.flatten import Flatten
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm2d
from dlkit.nn.pool import MaxPool2d


def simple_cnn(input_shape: Sequence[int], n_classes: int,
               widths: Sequence[int] = (16, 32), dropout: float = 0.0) -> Sequential:
    """``input_shape`` (n_H, n_W, n_C); each stage a 3x3 same convolution (``widths[i]``
    filters) with batch norm and ReLU, then 2x2 max pooling (halving n_H and n_W, rounding
    down); then a dense layer to ``n_classes`` logits."""
    n_h, n_w, c = (int(v) for v in input_shape)
    layers: list[Module] = []
    for width in widths:
        if n_h < 2 or n_w < 2:
            raise ValueError(f"simple_cnn: {len(widths)} poolings are too many for images of "
                             f"{input_shape[0]}x{input_shape[1]}")
        layers += [Conv2d(c, width, 3, padding=1, bias=False), BatchNorm2d(width), ReLU(),
                   MaxPool2d(2)]
        c, n_h, n_w = width, n_h // 2, n_w // 2
    layers.append(Flatten())
    if dropout:
        from dlkit.nn.dropout import Dropout

        layers.append(Dropout(dropout))
    layers.append(Linear(n_h * n_w * c, n_classes, init="xavier"))
    return Sequential(*layers)
