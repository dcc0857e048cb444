"""U-Net (Ronneberger et al., 2015) as the course's segmentation exercise.

Contracting path: conv blocks [3x3 same conv, ReLU] x 2 (dropout in the deepest ones), each
followed by 2x2 max pooling, whose pre-pooling output is kept as a skip connection.
Expanding path: up-sampling blocks [3x3 stride-2 transposed conv, concatenate the skip along
the channels, [3x3 same conv, ReLU] x 2]. Head: a 3x3 conv, ReLU, and a 1x1 conv to n_classes
logits per pixel: (m, n_H, n_W, n_C) -> (m, n_H, n_W, n_classes).

The course's model is ``UNet(3, 23, n_filters=32, depth=4)`` on 96x128 images (filters 32, 64,
128, 256, 512 down, dropout 0.3 in the two deepest blocks). Image sides must be multiples of
2**depth.
"""

from __future__ import annotations

from typing import Any

from dlkit.errors import ShapeError
from dlkit.nn.activation import ReLU
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.conv_transpose import ConvTranspose2d
from dlkit.nn.dropout import Dropout
from dlkit.nn.module import Module
from dlkit.nn.pool import MaxPool2d
from dlkit.ops.shape import concat
from dlkit.tensor import Tensor


def conv_block(n_C_prev: int, n_filters: int, dropout: float = 0.0) -> Sequential:
    """[3x3 same conv (He init), ReLU] x 2, then dropout when ``dropout`` > 0."""
    layers: list[Module] = [Conv2d(n_C_prev, n_filters, 3, padding="same"), ReLU(),
                            Conv2d(n_filters, n_filters, 3, padding="same"), ReLU()]
    if dropout:
        layers.append(Dropout(dropout))
    return Sequential(*layers)


@register
class UpsamplingBlock(Module):
    """up = ConvTranspose2d(3x3, stride 2, same)(x); concat([up, skip]); [3x3 conv, ReLU] x 2."""

    def __init__(self, n_C_prev: int, n_C_skip: int, n_filters: int) -> None:
        super().__init__()
        self.n_C_prev, self.n_C_skip, self.n_filters = n_C_prev, n_C_skip, n_filters
        self.up = ConvTranspose2d(n_C_prev, n_filters, 3, stride=2, padding="same")
        self.conv = conv_block(n_filters + n_C_skip, n_filters)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        up = self.up(x)
        if up.shape[1:3] != skip.shape[1:3]:
            raise ShapeError(f"UpsamplingBlock: up-sampled {up.shape} and skip {skip.shape} "
                             "differ in size; image sides must be multiples of 2**depth")
        return self.conv(concat([up, skip], axis=-1))

    def get_config(self) -> dict[str, Any]:
        return {"n_C_prev": self.n_C_prev, "n_C_skip": self.n_C_skip,
                "n_filters": self.n_filters}


@register
class UNet(Module):
    """U-Net with ``depth`` poolings: filters n_filters * 2**k at level k = 0..depth."""

    def __init__(self, n_C: int = 3, n_classes: int = 23, n_filters: int = 32, depth: int = 4,
                 dropout: float = 0.3) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"UNet: expected depth >= 1, got {depth}")
        self.n_C, self.n_classes, self.n_filters = n_C, n_classes, n_filters
        self.depth, self.dropout = depth, dropout
        widths = [n_filters * 2 ** k for k in range(depth + 1)]
        c = n_C
        self.down = Sequential(*(conv_block(c_in, w, dropout if k >= depth - 1 else 0.0)
                                 for k, (c_in, w) in enumerate(zip([c] + widths, widths))))
        self.pool = MaxPool2d(2)
        self.up = Sequential(*(UpsamplingBlock(widths[k + 1], widths[k], widths[k])
                               for k in reversed(range(depth))))
        self.head = Sequential(Conv2d(n_filters, n_filters, 3, padding="same"), ReLU(),
                               Conv2d(n_filters, n_classes, 1))

    def forward(self, x: Tensor) -> Tensor:
        side = 2 ** self.depth
        if x.ndim != 4 or x.shape[1] % side or x.shape[2] % side:
            raise ShapeError(f"UNet: expected images (m, n_H, n_W, {self.n_C}) with n_H and n_W "
                             f"multiples of 2**depth = {side}, got {x.shape}")
        skips = []
        blocks = list(self.down)
        for block in blocks[:-1]:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = blocks[-1](x)
        for block, skip in zip(self.up, reversed(skips)):
            x = block(x, skip)
        return self.head(x)

    def get_config(self) -> dict[str, Any]:
        return {"n_C": self.n_C, "n_classes": self.n_classes, "n_filters": self.n_filters,
                "depth": self.depth, "dropout": self.dropout}
