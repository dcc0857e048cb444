"""Siamese encoders (the notes' face recognition): f(x), an L2-normalized embedding.

``EmbeddingNet(backbone, in_features, embedding_dim=128)``: any backbone of the zoo (its
features, without the classifier) -> Flatten -> Linear(in_features, embedding_dim) -> x/||x||.
Both branches of the Siamese network are this one module: the same parameters embed the
anchor, the positive and the negative (or both images of a pair).

``PairClassifier(encoder, distance)``: the notes' DeepFace alternative, verification as binary
classification, y_hat = sigma(sum_k w_k |f(x_i)_k - f(x_j)_k| + b) (or the chi-square form
(f_i - f_j)^2 / (f_i + f_j)); its input is a batch of pairs (m, 2, *image_shape).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.errors import ShapeError
from dlkit.nn.activation import ReLU
from dlkit.nn.config import module_from_config, register, to_config
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.flatten import Flatten
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm2d
from dlkit.nn.pool import MaxPool2d
from dlkit.ops.elementwise import abs as abs_
from dlkit.ops.l2_normalize import l2_normalize
from dlkit.tensor import Tensor, as_tensor, no_grad

__all__ = ["DISTANCES", "EmbeddingNet", "L2Normalize", "PairClassifier", "conv_encoder",
           "embedding_net"]

DISTANCES = ("abs", "chi2")


@register
class L2Normalize(Module):
    """Rows to unit length: x / ||x||_2 along the last axis."""

    def forward(self, x: Tensor) -> Tensor:
        return l2_normalize(x, -1)

    def get_config(self) -> dict[str, Any]:
        return {}


@register
class EmbeddingNet(Module):
    """f(x) = normalize(W flatten(backbone(x)) + b): an (m, embedding_dim) embedding of unit
    length. ``normalize=False`` leaves it unnormalized (e.g. for the chi-square pair model)."""

    def __init__(self, backbone: Module, in_features: int, embedding_dim: int = 128,
                 normalize: bool = True) -> None:
        super().__init__()
        if not isinstance(backbone, Module):
            raise TypeError(f"EmbeddingNet: expected backbone a dlkit Module, got "
                            f"{type(backbone).__name__}")
        if embedding_dim <= 0:
            raise ValueError(f"EmbeddingNet: expected embedding_dim > 0, got {embedding_dim}")
        self.in_features, self.embedding_dim = int(in_features), int(embedding_dim)
        self.normalize = bool(normalize)
        self.backbone = backbone
        self.flatten = Flatten()
        self.head = Linear(self.in_features, self.embedding_dim, init="xavier")

    def forward(self, x: Tensor) -> Tensor:
        h = self.flatten(self.backbone(x))
        if h.shape[-1] != self.in_features:
            raise ShapeError(f"EmbeddingNet: the backbone gives {h.shape[-1]} features per "
                             f"example, the head expects in_features={self.in_features}")
        e = self.head(h)
        return l2_normalize(e, -1) if self.normalize else e

    def embed(self, X: Any, batch_size: int = 256) -> np.ndarray:
        """Embeddings of X in eval mode, without the tape, as a NumPy array (m, d)."""
        was = self.training
        self.eval()
        out = []
        try:
            with no_grad():
                for lo in range(0, len(X), batch_size):
                    out.append(self(as_tensor(np.asarray(X[lo:lo + batch_size]))).numpy())
        finally:
            self.train(was)
        return np.concatenate(out) if out else np.zeros((0, self.embedding_dim))

    def get_config(self) -> dict[str, Any]:
        return {"backbone": to_config(self.backbone), "in_features": self.in_features,
                "embedding_dim": self.embedding_dim, "normalize": self.normalize}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EmbeddingNet:
        config = dict(config)
        config["backbone"] = module_from_config(config["backbone"])
        return cls(**config)


def embedding_net(backbone: Module, input_shape: Sequence[int],
                  embedding_dim: int = 128, normalize: bool = True) -> EmbeddingNet:
    """An ``EmbeddingNet`` whose head's size is found by running the backbone once on zeros of
    ``input_shape`` (n_H, n_W, n_C) (or (n_x,))."""
    x = Tensor(np.zeros((1, *input_shape), dtype=get_default_dtype()))
    was = backbone.training
    backbone.eval()
    with no_grad():
        n = int(np.prod(backbone(x).shape[1:]))
    backbone.train(was)
    return EmbeddingNet(backbone, n, embedding_dim, normalize)


def conv_encoder(input_shape: Sequence[int], embedding_dim: int = 128,
                 widths: Sequence[int] = (32, 64), normalize: bool = True) -> EmbeddingNet:
    """The default small encoder: [CONV 3x3 same -> BN -> ReLU -> MAXPOOL 2] per width, then
    the embedding head (for 8x8 digits: 8x8x1 -> 4x4x32 -> 2x2x64 -> 128)."""
    c = int(input_shape[-1])
    layers: list[Module] = []
    for width in widths:
        layers += [Conv2d(c, width, 3, padding=1, bias=False), BatchNorm2d(width), ReLU(),
                   MaxPool2d(2)]
        c = width
    return embedding_net(Sequential(*layers), input_shape, embedding_dim, normalize)


@register
class PairClassifier(Module):
    """Verification as binary classification (DeepFace): for a pair (x_i, x_j),
    logit = sum_k w_k d_k + b with d_k = |f(x_i)_k - f(x_j)_k| (``distance="abs"``) or the
    chi-square d_k = (f_i - f_j)_k^2 / (f_i + f_j)_k (``"chi2"``; the denominator is taken as
    |f_i| + |f_j| + eps, equal to the notes' form for non-negative features and finite
    otherwise). Input: pairs (m, 2, *shape); output: logits (m, 1), to train with
    ``binary_cross_entropy_with_logits`` on y (m, 1) = 1 for the same identity."""

    def __init__(self, encoder: Module, embedding_dim: int, distance: str = "abs") -> None:
        super().__init__()
        if distance not in DISTANCES:
            raise ValueError(f"PairClassifier: expected distance in {DISTANCES}, got "
                             f"{distance!r}")
        self.encoder, self.embedding_dim, self.distance = encoder, int(embedding_dim), distance
        self.logistic = Linear(self.embedding_dim, 1, init="xavier")

    def features(self, pairs: Tensor) -> Tensor:
        """d (m, embedding_dim): the per-coordinate distance of the two embeddings."""
        pairs = as_tensor(pairs)
        if pairs.ndim < 3 or pairs.shape[1] != 2:
            raise ShapeError(f"PairClassifier: expected pairs of shape (m, 2, ...), got "
                             f"{pairs.shape}; stack the two inputs with np.stack([x1, x2], 1)")
        m = pairs.shape[0]
        both = pairs.reshape((2 * m, *pairs.shape[2:]))  # one pass through the shared encoder
        e = self.encoder(both).reshape((m, 2, -1))
        fi, fj = e[:, 0], e[:, 1]
        diff = fi - fj
        if self.distance == "abs":
            return abs_(diff)
        return diff * diff / (abs_(fi) + abs_(fj) + 1e-6)

    def forward(self, pairs: Tensor) -> Tensor:
        return self.logistic(self.features(pairs))

    def get_config(self) -> dict[str, Any]:
        return {"encoder": to_config(self.encoder), "embedding_dim": self.embedding_dim,
                "distance": self.distance}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PairClassifier:
        config = dict(config)
        config["encoder"] = module_from_config(config["encoder"])
        return cls(**config)
