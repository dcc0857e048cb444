"""What deep ConvNets learn (Zeiler & Fergus 2013, as the notes): for a unit (a channel) of a
layer, the image patches of a data set that activate it most; and the first layer's filters
as pictures.

A unit at position (i, j) of a layer sees a square window of the input, its receptive field;
``receptive_fields`` computes it from the convolutions and poolings on the way
(size r, jump j, offset): unit (i, j) covers input rows [off + i j, off + i j + r).
Shallow units see small patches (edges, colors); deeper units see larger ones (shapes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.module import Module
from dlkit.nn.pool import AvgPool2d, MaxPool2d
from dlkit.tensor import Tensor, no_grad
from dlkit.vision.images import image_grid, save_image

__all__ = ["Field", "TopPatches", "filter_images", "layer_names", "layers_of",
           "receptive_fields", "save_filters", "save_top_patches", "top_activating_patches"]


@dataclass(frozen=True)
class Field:
    """Receptive field after a layer: ``size`` r, ``jump`` (input pixels between neighbouring
    units) and ``offset`` (input row/column of unit 0's first pixel; negative inside the
    padding)."""

    size: int
    jump: int
    offset: int


def layers_of(model: Module) -> Sequential:
    """The Sequential of layers to walk: the model itself, or its ``backbone`` (an
    ``EmbeddingNet``) or ``features`` (VGG)."""
    for candidate in (model, getattr(model, "backbone", None), getattr(model, "features", None)):
        if isinstance(candidate, Sequential):
            return candidate
    raise TypeError(f"visualize: expected a Sequential model (or one with a backbone / "
                    f"features Sequential), got {type(model).__name__}")


def layer_names(model: Module) -> list[str]:
    """Names of the walkable layers: ``"index:Class"`` strings, e.g. ``"2:ReLU"``."""
    return [f"{k}:{type(m).__name__}" for k, m in enumerate(layers_of(model))]


def _int2(v: Any) -> int:
    if isinstance(v, (tuple, list)):
        if len(set(v)) != 1:
            raise ValueError(f"receptive_fields: non-square windows are not supported ({v})")
        v = v[0]
    return int(v)


def receptive_fields(layers: Sequence[Module]) -> list[Field]:
    """The receptive field after each layer (square kernels; "same" padding as (f - 1) // 2).
    Layers without a window (ReLU, batch norm) keep the field."""
    size, jump, offset = 1, 1, 0
    out = []
    for layer in layers:
        if isinstance(layer, (Conv2d, MaxPool2d, AvgPool2d)):
            f = _int2(layer.f)
            stride = _int2(layer.stride if layer.stride is not None else f)
            pad = layer.padding
            if pad == "same":
                pad = (f - 1) // 2
            elif pad == "valid":
                pad = 0
            pad = _int2(pad)
            offset -= pad * jump
            size += (f - 1) * jump
            jump *= stride
        out.append(Field(size, jump, offset))
    return out


def _layer_index(seq: Sequential, layer: str | int) -> int:
    key = str(layer).split(":")[0]
    if key.lstrip("-").isdigit():
        k = int(key)
        k = k + len(seq) if k < 0 else k
        if 0 <= k < len(seq):
            return k
    names = [f"{k}:{type(m).__name__}" for k, m in enumerate(seq)]
    raise ValueError(f"visualize: unknown layer {layer!r}; the layers are {names}")


@dataclass
class TopPatches:
    """The ``k`` strongest activations of one unit: ``patches`` (k, r, r, C) of the input,
    ``values`` (k,), ``examples`` (k,) and ``positions`` (k, 2) (row, column in the layer)."""

    patches: np.ndarray
    values: np.ndarray
    examples: np.ndarray
    positions: np.ndarray
    field: Field


def _activations(seq: Sequential, X: np.ndarray, index: int, batch_size: int = 256
                 ) -> np.ndarray:
    was = seq.training
    seq.eval()
    outs = []
    try:
        with no_grad():
            for lo in range(0, len(X), batch_size):
                x = Tensor(np.asarray(X[lo:lo + batch_size], dtype=get_default_dtype()))
                for layer in list(seq)[:index + 1]:
                    x = layer(x)
                outs.append(x.numpy())
    finally:
        seq.train(was)
    a = np.concatenate(outs)
    if a.ndim != 4:
        raise ValueError(f"visualize: layer {index} gives activations of shape {a.shape[1:]}, "
                         f"not a feature map (n_H, n_W, n_C); choose a convolutional layer")
    return a


def top_activating_patches(model: Module, X: np.ndarray, layer: str | int, unit: int,
                           k: int = 9, distinct: bool = True) -> TopPatches:
    """The input patches (receptive fields) of the ``k`` largest activations of channel
    ``unit`` of ``layer`` over the images X (m, n_H, n_W, n_C); with ``distinct``, at most
    one patch per image. Patches that reach into the padding are padded with zeros."""
    seq = layers_of(model)
    index = _layer_index(seq, layer)
    field = receptive_fields(list(seq)[:index + 1])[-1]
    a = _activations(seq, X, index)
    if not 0 <= unit < a.shape[-1]:
        raise ValueError(f"visualize: layer {index} has {a.shape[-1]} units (channels), got "
                         f"unit {unit}")
    act = a[..., unit]  # (m, h, w)
    m, h, w = act.shape
    if distinct:
        flat = act.reshape(m, -1)
        best_pos = flat.argmax(1)
        best = flat[np.arange(m), best_pos]
        examples = np.argsort(-best, kind="stable")[:k]
        rows, cols = np.divmod(best_pos[examples], w)
        values = best[examples]
    else:
        order = np.argsort(-act.ravel(), kind="stable")[:k]
        examples, rows, cols = np.unravel_index(order, act.shape)
        values = act.ravel()[order]
    r = field.size
    pad = max(0, -field.offset) + r
    padded = np.pad(np.asarray(X), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    tops = field.offset + rows * field.jump + pad
    lefts = field.offset + cols * field.jump + pad
    patches = np.stack([padded[e, t:t + r, s:s + r] for e, t, s in zip(examples, tops, lefts)])
    return TopPatches(patches, values, np.asarray(examples), np.stack([rows, cols], 1), field)


def _unit_range(p: np.ndarray) -> np.ndarray:
    lo, hi = p.min(), p.max()
    return (p - lo) / (hi - lo) if hi > lo else np.zeros_like(p)


def save_top_patches(model: Module, X: np.ndarray, layer: str | int, path: str | Path,
                     units: Sequence[int] | None = None, k: int = 9, scale: int = 0
                     ) -> Path:
    """A picture: one row per unit (the first 8 channels by default), its ``k`` top patches
    from left to right (strongest first), each scaled to [0, 1]."""
    seq = layers_of(model)
    index = _layer_index(seq, layer)
    if units is None:
        n = _activations(seq, X[:1], index).shape[-1]
        units = list(range(min(8, n)))
    rows = []
    for u in units:
        top = top_activating_patches(model, X, index, int(u), k)
        patches = [_unit_range(p) for p in top.patches]
        while len(patches) < k:
            patches.append(np.zeros_like(patches[0]))
        rows.extend(patches)
    size = rows[0].shape[0]
    scale = scale or max(1, 48 // size)
    return save_image(path, image_grid(rows, cols=k, pad=3, scale=scale, background=0.5))


def filter_images(weight: Any) -> list[np.ndarray]:
    """Each filter (f, f, n_C_prev) of a conv weight (f, f, n_C_prev, n_C) as a picture in
    [0, 1]: RGB when n_C_prev = 3, otherwise the mean over the input channels (gray)."""
    W = np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight, dtype=np.float64)
    if W.ndim != 4:
        raise ValueError(f"filter_images: expected a conv weight (f, f, n_C_prev, n_C), got "
                         f"shape {W.shape}")
    images = []
    for c in range(W.shape[-1]):
        w = W[..., c]
        w = w if w.shape[-1] == 3 else w.mean(-1, keepdims=True)
        images.append(_unit_range(w))
    return images


def save_filters(model: Module, path: str | Path, scale: int = 0) -> Path:
    """The first convolution's filters as a picture grid."""
    seq = layers_of(model)
    conv = next((m for m in seq if isinstance(m, Conv2d)), None)
    if conv is None:
        raise ValueError("visualize: the model has no Conv2d layer")
    images = filter_images(conv.weight)
    scale = scale or max(1, 48 // images[0].shape[0])
    return save_image(path, image_grid(images, pad=4, scale=scale, background=0.5))
