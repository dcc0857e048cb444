"""Sliding windows, naive and convolutional (course 4 week 3; OverFeat).

Naive: crop every window (window x window, moved by ``stride``) and classify each crop.
Convolutional: turn a CNN whose head is Flatten + Linear layers into an all-convolutional
network (the first Linear becomes an f x f convolution over the (f, f, n_C) volume it read,
the others 1 x 1 convolutions) and run it once on the whole image: output cell (i, j) is the
prediction for the window at (i s, j s), with s the product of the network's strides (its
pooling and strided convolutions). Both agree when the convolutions use no padding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.errors import ShapeError
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.flatten import Flatten
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm1d, BatchNorm2d
from dlkit.nn.pool import AvgPool2d, MaxPool2d
from dlkit.tensor import Tensor, as_tensor, no_grad


def _stride_of(layer: Module) -> int:
    if isinstance(layer, (MaxPool2d, AvgPool2d)):
        s = layer.stride if layer.stride is not None else layer.f
    elif isinstance(layer, Conv2d):
        s = layer.stride
    else:
        return 1
    s = s if isinstance(s, int) else s[0]
    return int(s)


def window_stride(model: Sequential) -> int:
    """The window's step in pixels: the product of the strides before Flatten."""
    s = 1
    for layer in model:
        if isinstance(layer, Flatten):
            break
        s *= _stride_of(layer)
    return s


def _feature_shape(model: Sequential, window: int, n_C: int) -> tuple[int, ...]:
    """The shape Flatten receives for one window."""
    x = as_tensor(np.zeros((1, window, window, n_C), dtype=next(model.parameters()).dtype))
    was_training = model.training
    model.eval()
    with no_grad():
        for layer in model:
            if isinstance(layer, Flatten):
                break
            x = layer(x)
    model.train(was_training)
    return tuple(x.shape[1:])


def to_fully_convolutional(model: Sequential, window: int, n_C: int = 3) -> Sequential:
    """An all-convolutional copy of ``model`` (convolutions, pooling, activations, then
    Flatten, then Linear layers) for windows of ``window`` x ``window`` x ``n_C``: the first
    Linear (n_out, f*f*C) becomes Conv2d(C, n_out, f) with W reshaped to (f, f, C, n_out), the
    next Linears 1x1 convolutions, a BatchNorm1d a BatchNorm2d. Weights are copied."""
    if not isinstance(model, Sequential):
        raise TypeError(f"to_fully_convolutional: expected a Sequential, got "
                        f"{type(model).__name__}")
    layers = list(model)
    flat = [i for i, layer in enumerate(layers) if isinstance(layer, Flatten)]
    if len(flat) != 1:
        raise ValueError("to_fully_convolutional: expected exactly one Flatten between the "
                         "convolutional body and the Linear head")
    for layer in layers[:flat[0]]:
        if isinstance(layer, Conv2d) and layer.padding not in (0, "valid", (0, 0), [0, 0]):
            raise ValueError(
                "to_fully_convolutional: a convolution with padding "
                f"{layer.padding!r} sees zeros at a window's border but the neighbouring "
                "pixels in the whole image, so windows would not match crops; use padding 0")
    shape = _feature_shape(model, window, n_C)
    out: list[Module] = list(layers[:flat[0]])
    first = True
    for layer in layers[flat[0] + 1:]:
        if isinstance(layer, Linear):
            w = layer.weight.data
            if first:
                f_h, f_w, c = shape
                if w.shape[1] != f_h * f_w * c:
                    raise ShapeError(f"to_fully_convolutional: the first Linear reads "
                                     f"{w.shape[1]} features but a {window}x{window} window "
                                     f"gives {shape} = {f_h * f_w * c}; wrong window size?")
                conv = Conv2d(c, layer.n_out, (f_h, f_w), bias=layer.bias is not None,
                              dtype=w.dtype)
                conv.weight.data[...] = w.reshape(layer.n_out, f_h, f_w, c).transpose(1, 2, 3, 0)
                first = False
            else:
                conv = Conv2d(layer.n_in, layer.n_out, 1, bias=layer.bias is not None,
                              dtype=w.dtype)
                conv.weight.data[...] = w.T.reshape(1, 1, layer.n_in, layer.n_out)
            if layer.bias is not None:
                conv.bias.data[...] = layer.bias.data
            out.append(conv)
        elif isinstance(layer, BatchNorm1d) and not isinstance(layer, BatchNorm2d):
            bn = BatchNorm2d(layer.n_features, layer.momentum, layer.eps,
                             dtype=layer.gamma.dtype)
            bn.load_state_dict(layer.state_dict())
            out.append(bn)
        elif isinstance(layer, (Flatten, Conv2d)):
            raise ValueError(f"to_fully_convolutional: unexpected {type(layer).__name__} in the "
                             "dense head")
        else:  # activations, dropout, softmax act per position
            out.append(layer)
    if first:
        raise ValueError("to_fully_convolutional: no Linear layer after Flatten")
    converted = Sequential(*out)
    converted.train(model.training)
    return converted


def window_positions(image_size: tuple[int, int], window: int, stride: int) -> np.ndarray:
    """Top-left corners (n_h, n_w, 2) as (y, x) of every window that fits."""
    n_h = (image_size[0] - window) // stride + 1
    n_w = (image_size[1] - window) // stride + 1
    if n_h <= 0 or n_w <= 0:
        raise ShapeError(f"sliding windows: a {window}x{window} window does not fit in an image "
                         f"of {image_size}")
    ys, xs = np.meshgrid(np.arange(n_h) * stride, np.arange(n_w) * stride, indexing="ij")
    return np.stack([ys, xs], -1)


def crop_windows(images: Any, window: int, stride: int) -> np.ndarray:
    """All windows of images (m, H, W, C) -> (m, n_h, n_w, window, window, C) (a view)."""
    x = np.asarray(images.data if isinstance(images, Tensor) else images)
    if x.ndim != 4:
        raise ShapeError(f"crop_windows: expected images (m, H, W, C), got {x.shape}")
    window_positions(x.shape[1:3], window, stride)  # checks the window fits
    v = np.lib.stride_tricks.sliding_window_view(x, (window, window), axis=(1, 2))
    return v[:, ::stride, ::stride].transpose(0, 1, 2, 4, 5, 3)


def sliding_window_predictions(model: Module, images: Any, window: int, stride: int,
                               batch_size: int = 256) -> np.ndarray:
    """The naive detector: classify every crop; (m, n_h, n_w, n_out)."""
    crops = crop_windows(images, window, stride)
    m, n_h, n_w = crops.shape[:3]
    flat = crops.reshape((-1,) + crops.shape[3:])
    outs = []
    with no_grad():
        for i in range(0, len(flat), batch_size):
            outs.append(model(as_tensor(np.ascontiguousarray(flat[i:i + batch_size]))).data)
    out = np.concatenate(outs)
    return out.reshape(m, n_h, n_w, -1)


def convolutional_sliding_windows(fc_model: Module, images: Any) -> np.ndarray:
    """The convolutional detector: one forward pass of ``to_fully_convolutional``'s network;
    (m, n_h, n_w, n_out)."""
    with no_grad():
        return fc_model(as_tensor(images)).data

