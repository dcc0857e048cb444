"""Semantic segmentation: pixel-wise cross-entropy, masks from logits, IoU per class.

Logits are (m, n_H, n_W, C) (a U-Net's output), masks (m, n_H, n_W) integer classes.
IoU of class c = |pred = c and true = c| / |pred = c or true = c|, read off the confusion
matrix (TP / (TP + FP + FN)); mean IoU averages the classes present in the prediction or
the truth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.errors import ShapeError
from dlkit.ops.loss import cross_entropy
from dlkit.tensor import Tensor, as_tensor


def pixel_cross_entropy(logits: Any, masks: Any, ignore_index: int = -100) -> Tensor:
    """Softmax cross-entropy averaged over every pixel: logits (m, n_H, n_W, C), masks
    (m, n_H, n_W) integer classes (pixels equal to ``ignore_index`` are left out)."""
    z = as_tensor(logits)
    y = masks.data if isinstance(masks, Tensor) else np.asarray(masks)
    if z.ndim != 4 or y.shape != z.shape[:3]:
        hint = ""
        if y.ndim == 4 and y.shape[-1] == 1:
            hint = "; masks of shape (m, n_H, n_W, 1)? use masks[..., 0]"
        raise ShapeError(f"pixel_cross_entropy: expected logits (m, n_H, n_W, C) and masks "
                         f"(m, n_H, n_W), got {z.shape} and {y.shape}{hint}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"pixel_cross_entropy: expected integer class masks, got {y.dtype}")
    return cross_entropy(z, y, ignore_index=ignore_index)


def predict_masks(logits: Any) -> np.ndarray:
    """The most likely class of every pixel: argmax over the last axis -> (m, n_H, n_W)."""
    z = to_numpy(logits.data if isinstance(logits, Tensor) else logits)
    return z.argmax(axis=-1)


def confusion_matrix(pred: Any, target: Any, n_classes: int) -> np.ndarray:
    """(C, C) counts: entry [t, p] = pixels of true class t predicted as p."""
    p, t = np.asarray(to_numpy(pred)).ravel(), np.asarray(to_numpy(target)).ravel()
    if p.shape != t.shape:
        raise ShapeError(f"confusion_matrix: prediction and target differ in size: "
                         f"{np.shape(pred)} and {np.shape(target)}")
    for name, a in (("prediction", p), ("target", t)):
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise ValueError(f"confusion_matrix: {name} classes must lie in [0, {n_classes}), "
                             f"got {a.min()}..{a.max()}")
    return np.bincount(t * n_classes + p, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def iou_per_class(pred: Any, target: Any, n_classes: int) -> np.ndarray:
    """IoU of each class, TP / (TP + FP + FN); NaN for a class in neither mask."""
    cm = confusion_matrix(pred, target, n_classes).astype(np.float64)
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)


def mean_iou(pred: Any, target: Any, n_classes: int) -> float:
    """The mean of ``iou_per_class`` over the classes present (NaN left out)."""
    ious = iou_per_class(pred, target, n_classes)
    return float(np.nanmean(ious)) if np.isfinite(ious).any() else float("nan")
