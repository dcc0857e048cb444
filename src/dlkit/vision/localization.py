"""Classification with localization and landmark detection (course 4 week 3).

The notes' target for one image: y = [p_c, b_x, b_y, b_h, b_w, c_1..c_C] with p_c = 1 when an
object is present (box as image fractions, one-hot class), and p_c = 0 otherwise (the rest
"don't care"). Two losses, per example, averaged over the batch:

- ``"squared"`` (the notes' first form): sum_k (yhat_k - y_k)^2 when p_c = 1, only
  (yhat_1 - y_1)^2 when p_c = 0;
- ``"logistic"`` (what the notes recommend in practice): logistic loss on p_c from a logit,
  squared error on the box, softmax cross-entropy on the classes; box and class terms only when
  p_c = 1.

Landmarks: the network outputs (l_1x, l_1y, .., l_Kx, l_Ky); targets (m, 2K), or (m, 3K) as
(x, y, visibility) triplets; the loss is the squared error over the visible landmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.errors import ShapeError
from dlkit.ops.elementwise import square
from dlkit.ops.loss import binary_cross_entropy_with_logits, cross_entropy
from dlkit.tensor import Tensor, as_tensor
from dlkit.vision.boxes import check_boxes


def localization_targets(boxes: Sequence[Any], labels: Sequence[int], image_shape: Any,
                         n_classes: int) -> np.ndarray:
    """Targets (m, 5 + C) from one corner box (pixels) and label per image; a label of -1
    (or a box of None) means no object: p_c = 0 and zeros elsewhere."""
    height, width = float(image_shape[0]), float(image_shape[1])
    y = np.zeros((len(labels), 5 + n_classes), np.float32)
    for i, (box, label) in enumerate(zip(boxes, labels)):
        if box is None or label is None or int(label) < 0:
            continue
        if int(label) >= n_classes:
            raise ValueError(f"localization_targets: label {label} of image {i} is not in "
                             f"[0, {n_classes})")
        x1, y1, x2, y2 = check_boxes(np.asarray(box, np.float64).reshape(4),
                                     "localization_targets")
        y[i, :5] = (1, (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (y2 - y1) / height,
                    (x2 - x1) / width)
        y[i, 5 + int(label)] = 1
    return y


def _targets(y: Any, pred: Tensor, op: str) -> np.ndarray:
    t = to_numpy(y.data if isinstance(y, Tensor) else y).astype(pred.dtype, copy=False)
    if pred.ndim != 2 or t.shape != pred.shape or pred.shape[1] < 6:
        raise ShapeError(f"{op}: expected predictions and targets (m, 5 + C) of one shape "
                         f"[p_c, b_x, b_y, b_h, b_w, c_1..c_C], got {pred.shape} and {t.shape}")
    return t


def localization_loss(pred: Any, y: Any, form: str = "logistic",
                      box_weight: float = 1.0) -> Tensor:
    """The loss of classification with localization (see the module docstring); ``pred``
    (m, 5 + C) are the network's outputs (for "logistic": p_c and classes as logits).
    ``box_weight`` multiplies the box's squared error in the logistic form (YOLO's
    lambda_coord: box errors, fractions of the image, are small beside the log losses)."""
    op = "localization_loss"
    pred = as_tensor(pred)
    t = _targets(y, pred, op)
    m = pred.shape[0]
    p_c = t[:, 0]
    if form == "squared":
        weights = np.ones_like(t)
        weights[:, 1:] = p_c[:, None]
        return (square(pred - t) * weights).sum() / float(m)
    if form == "logistic":
        obj = binary_cross_entropy_with_logits(pred[:, 0], p_c, reduction="sum")
        box = (square(pred[:, 1:5] - t[:, 1:5]) * p_c[:, None]).sum()
        cls = (cross_entropy(pred[:, 5:], t[:, 5:], reduction="none") * p_c).sum()
        return (obj + float(box_weight) * box + cls) / float(m)
    raise ValueError(f"{op}: expected form 'logistic' or 'squared', got {form!r}")


def landmark_loss(pred: Any, y: Any) -> Tensor:
    """Squared error of landmarks pred (m, 2K) = (l_1x, l_1y, ..) against targets (m, 2K), or
    (m, 3K) (x, y, visibility) triplets whose invisible points (v = 0) add nothing; summed
    over points, averaged over the batch."""
    pred = as_tensor(pred)
    t = to_numpy(y.data if isinstance(y, Tensor) else y).astype(pred.dtype, copy=False)
    if pred.ndim != 2 or pred.shape[1] % 2 or t.ndim != 2 or t.shape[0] != pred.shape[0]:
        raise ShapeError(f"landmark_loss: expected predictions (m, 2K) and targets (m, 2K) or "
                         f"(m, 3K), got {pred.shape} and {t.shape}")
    k = pred.shape[1] // 2
    if t.shape[1] == 2 * k:
        xy, visible = t, np.ones_like(t)
    elif t.shape[1] == 3 * k:
        triplets = t.reshape(-1, k, 3)
        xy = triplets[..., :2].reshape(-1, 2 * k)
        visible = np.repeat((triplets[..., 2] > 0).astype(pred.dtype), 2, axis=1)
    else:
        raise ShapeError(f"landmark_loss: {k} landmarks predicted, targets have "
                         f"{t.shape[1]} columns; expected {2 * k} (x, y) or {3 * k} "
                         "(x, y, visibility)")
    return (square(pred - xy) * visible).sum() / float(pred.shape[0])
