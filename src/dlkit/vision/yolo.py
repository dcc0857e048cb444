"""YOLO (course 4 week 3; the YOLOv2 form): grid targets with anchor boxes, k-means anchors,
the training loss, and decoding as the course's car-detection exercise.

Output volume (m, S_h, S_w, B, 5 + C): per cell and anchor, the notes' vector
``[p_c, b_x, b_y, b_h, b_w, c_1..c_C]`` as raw numbers (t_o, t_x, t_y, t_h, t_w, class logits):

    p_c = sigmoid(t_o)
    b_x = (sigmoid(t_x) + c_x) / S_w,   b_y = (sigmoid(t_y) + c_y) / S_h   (cell (c_y, c_x))
    b_h = anchor_h * exp(t_h),          b_w = anchor_w * exp(t_w)
    class probabilities = softmax(class logits)

Boxes and anchors are fractions of the image (0..1); anchors (B, 2) hold (h, w).

Targets ``y`` have the same shape: ``[p_c, x, y, b_h, b_w, one-hot class]`` with x, y the
midpoint's position inside its cell (0..1), b_h, b_w the box's size (image fractions). An
object goes to the cell holding its midpoint and to the anchor whose shape has the highest IoU
with it (both centred), as the notes say; when that anchor is taken, to the next best.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator, to_numpy
from dlkit.errors import ShapeError
from dlkit.ops.activation import sigmoid, stable_sigmoid, stable_softmax
from dlkit.ops.elementwise import square
from dlkit.ops.loss import binary_cross_entropy_with_logits, cross_entropy
from dlkit.tensor import Tensor, as_tensor
from dlkit.vision.boxes import batched_nms, check_boxes, scale_boxes


def _anchors(anchors: Any, op: str) -> np.ndarray:
    a = np.asarray(anchors, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or not (a > 0).all():
        raise ValueError(f"{op}: expected anchors (B, 2) of positive (h, w) image fractions, "
                         f"got {a.tolist() if a.size < 20 else a.shape}")
    return a


def centred_iou(hw: Any, anchors: Any) -> np.ndarray:
    """IoU of boxes (N, 2) and anchors (K, 2) given as (h, w), all centred at one point:
    min(h) min(w) / (h w + h' w' - min(h) min(w)) -> (N, K)."""
    hw, anchors = np.asarray(hw, np.float64), np.asarray(anchors, np.float64)
    inter = (np.minimum(hw[:, None, 0], anchors[None, :, 0])
             * np.minimum(hw[:, None, 1], anchors[None, :, 1]))
    union = (hw[:, 0] * hw[:, 1])[:, None] + (anchors[:, 0] * anchors[:, 1])[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def kmeans_anchors(hw: Any, k: int = 5, iterations: int = 100,
                   seed: int | None = None) -> np.ndarray:
    """The notes' anchor choice: k-means over the training boxes' (h, w), all centred, with
    distance 1 - IoU; k-means++ start, cluster means as centres. Returns (k, 2) sorted by
    area."""
    hw = np.asarray(hw, np.float64)
    if hw.ndim != 2 or hw.shape[1] != 2:
        raise ShapeError(f"kmeans_anchors: expected box sizes (N, 2) as (h, w), got {hw.shape}")
    hw = hw[(hw > 0).all(axis=1)]
    if len(hw) < k:
        raise ValueError(f"kmeans_anchors: {len(hw)} boxes of positive size for k = {k} "
                         "anchors; give at least k boxes")
    rng = np.random.default_rng(seed) if seed is not None else generator()
    centres = hw[[int(rng.integers(len(hw)))]]
    while len(centres) < k:  # k-means++: far boxes (in 1 - IoU) are likelier
        d = (1 - centred_iou(hw, centres)).min(axis=1) ** 2
        p = d / d.sum() if d.sum() > 0 else np.full(len(hw), 1 / len(hw))
        centres = np.vstack([centres, hw[rng.choice(len(hw), p=p)]])
    assign = None
    for _ in range(iterations):
        new = (1 - centred_iou(hw, centres)).argmin(axis=1)
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            if (assign == j).any():
                centres[j] = hw[assign == j].mean(axis=0)
    return centres[np.argsort(centres[:, 0] * centres[:, 1])]


def encode_targets(boxes: Sequence[Any], labels: Sequence[Any], image_shape: Sequence[int],
                   grid: int | tuple[int, int], anchors: Any, n_classes: int) -> np.ndarray:
    """Targets (m, S_h, S_w, B, 5 + C) from each image's corner boxes (k_i, 4) in pixels and
    labels (k_i,) in [0, C); ``image_shape`` (height, width)."""
    anchors = _anchors(anchors, "encode_targets")
    s_h, s_w = (grid, grid) if isinstance(grid, int) else grid
    height, width = float(image_shape[0]), float(image_shape[1])
    if len(boxes) != len(labels):
        raise ValueError(f"encode_targets: {len(boxes)} box arrays but {len(labels)} label "
                         "arrays; give one of each per image")
    y = np.zeros((len(boxes), s_h, s_w, len(anchors), 5 + n_classes), np.float32)
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        b = check_boxes(np.asarray(b, np.float64).reshape(-1, 4), "encode_targets")
        lab = np.asarray(lab, np.int64).reshape(-1)
        if len(lab) != len(b):
            raise ValueError(f"encode_targets: image {i} has {len(b)} boxes but {len(lab)} "
                             "labels")
        if lab.size and (lab.min() < 0 or lab.max() >= n_classes):
            raise ValueError(f"encode_targets: image {i} has a label outside [0, {n_classes})"
                             f": {lab.tolist()}")
        bx = (b[:, 0] + b[:, 2]) / 2 / width
        by = (b[:, 1] + b[:, 3]) / 2 / height
        bh, bw = (b[:, 3] - b[:, 1]) / height, (b[:, 2] - b[:, 0]) / width
        col = np.clip((bx * s_w).astype(int), 0, s_w - 1)
        row = np.clip((by * s_h).astype(int), 0, s_h - 1)
        ranked = np.argsort(-centred_iou(np.stack([bh, bw], 1), anchors), axis=1, kind="stable")
        for j in np.argsort(-(bh * bw), kind="stable"):  # larger boxes choose first
            if bh[j] <= 0 or bw[j] <= 0:
                continue
            free = [a for a in ranked[j] if y[i, row[j], col[j], a, 0] == 0]
            if not free:
                continue
            cell = y[i, row[j], col[j], free[0]]
            cell[:5] = (1.0, bx[j] * s_w - col[j], by[j] * s_h - row[j], bh[j], bw[j])
            cell[5 + lab[j]] = 1.0
    return y


def _check_volume(pred: Any, n_anchors: int, op: str) -> None:
    if pred.ndim != 5 or pred.shape[3] != n_anchors or pred.shape[4] < 6:
        raise ShapeError(f"{op}: expected an output volume (m, S_h, S_w, B={n_anchors}, 5 + C), "
                         f"got {tuple(pred.shape)}; a flat (m, S, S, B*(5+C)) output? reshape it")


class YoloLoss:
    """The YOLOv2-form loss, summed over cells and anchors and averaged over the batch:

        J = lambda_coord sum_obj [(sigmoid(t_x) - x)^2 + (sigmoid(t_y) - y)^2
                                  + (t_h - log(b_h / a_h))^2 + (t_w - log(b_w / a_w))^2]
            + sum_obj BCE(t_o, 1) + lambda_noobj sum_noobj BCE(t_o, 0)
            + sum_obj CE(softmax(class logits), class)

    A callable ``loss(pred, y)`` for ``dl.train.fit`` (pred the (m, S_h, S_w, B, 5 + C) output,
    y from ``encode_targets``); ``terms`` holds the last call's parts as floats."""

    def __init__(self, anchors: Any, lambda_coord: float = 5.0, lambda_noobj: float = 0.5):
        self.anchors = _anchors(anchors, "YoloLoss")
        self.lambda_coord, self.lambda_noobj = float(lambda_coord), float(lambda_noobj)
        self.terms: dict[str, float] = {}
        self.__name__ = "yolo_loss"

    def __call__(self, pred: Any, y: Any) -> Tensor:
        pred = as_tensor(pred)
        _check_volume(pred, len(self.anchors), "yolo_loss")
        y = to_numpy(y.data if isinstance(y, Tensor) else y).astype(pred.dtype, copy=False)
        if y.shape != pred.shape:
            raise ShapeError(f"yolo_loss: targets {y.shape} and output {pred.shape} differ; "
                             "encode the targets with encode_targets for this grid, anchors "
                             "and class count")
        m = pred.shape[0]
        obj = y[..., 0]
        noobj = 1 - obj
        anchors = self.anchors.astype(pred.dtype)
        safe = np.where(obj[..., None] > 0, y[..., 3:5], anchors)
        t_hw = np.log(safe / anchors) * obj[..., None]
        conf = binary_cross_entropy_with_logits(pred[..., 0], obj, reduction="none")
        l_obj = (conf * obj).sum()
        l_noobj = (conf * noobj).sum()
        l_xy = (square(sigmoid(pred[..., 1:3]) - y[..., 1:3]) * obj[..., None]).sum()
        l_hw = (square(pred[..., 3:5] - t_hw) * obj[..., None]).sum()
        l_cls = (cross_entropy(pred[..., 5:], y[..., 5:], reduction="none") * obj).sum()
        total = (self.lambda_coord * (l_xy + l_hw) + l_obj + self.lambda_noobj * l_noobj
                 + l_cls) / float(m)
        self.terms = {name: float(t.data) / m for name, t in
                      (("xy", l_xy), ("hw", l_hw), ("obj", l_obj), ("noobj", l_noobj),
                       ("class", l_cls))}
        return total


def yolo_loss(pred: Any, y: Any, anchors: Any, lambda_coord: float = 5.0,
              lambda_noobj: float = 0.5) -> Tensor:
    """``YoloLoss(anchors, lambda_coord, lambda_noobj)(pred, y)``."""
    return YoloLoss(anchors, lambda_coord, lambda_noobj)(pred, y)


def yolo_head(output: Any, anchors: Any) -> tuple[np.ndarray, ...]:
    """Raw output (m, S_h, S_w, B, 5 + C) -> (box_confidence (..., 1), box_xy (..., 2),
    box_hw (..., 2), box_class_probs (..., C)), boxes as image fractions."""
    anchors = _anchors(anchors, "yolo_head")
    out = to_numpy(output.data if isinstance(output, Tensor) else output)
    _check_volume(out, len(anchors), "yolo_head")
    s_h, s_w = out.shape[1:3]
    cy, cx = np.meshgrid(np.arange(s_h), np.arange(s_w), indexing="ij")
    offsets = np.stack([cx, cy], -1)[None, :, :, None, :]
    box_xy = (stable_sigmoid(out[..., 1:3]) + offsets) / np.array([s_w, s_h])
    box_hw = anchors * np.exp(np.clip(out[..., 3:5], -10, 10))
    conf = stable_sigmoid(out[..., :1])
    probs = stable_softmax(out[..., 5:], axis=-1)
    return conf, box_xy.astype(out.dtype), box_hw.astype(out.dtype), probs


def yolo_boxes_to_corners(box_xy: Any, box_hw: Any) -> np.ndarray:
    """Midpoints (..., 2) as (x, y) and sizes (..., 2) as (h, w) -> corners (..., 4)
    (x1, y1, x2, y2) (the course's function, in dlkit's corner order)."""
    xy, hw = np.asarray(box_xy), np.asarray(box_hw)
    half = np.stack([hw[..., 1], hw[..., 0]], -1) / 2
    return np.concatenate([xy - half, xy + half], axis=-1)


def yolo_filter_boxes(box_confidence: Any, boxes: Any, box_class_probs: Any,
                      threshold: float = 0.6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course's filter: score = p_c x class probability; keep each box's best class when
    its score is at least ``threshold``. Returns scores (N,), boxes (N, 4), classes (N,)."""
    scores = np.asarray(box_confidence) * np.asarray(box_class_probs)
    classes = scores.argmax(axis=-1)
    best = scores.max(axis=-1)
    keep = best >= threshold
    return best[keep], np.asarray(boxes)[keep], classes[keep].astype(np.int64)


def yolo_eval(yolo_outputs: tuple[Any, Any, Any, Any], image_shape: Sequence[float] = (720.0,
              1280.0), max_boxes: int = 10, score_threshold: float = 0.6,
              iou_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course's pipeline for one image: ``yolo_outputs`` = (box_confidence, box_xy,
    box_hw, box_class_probs) of one image (as ``yolo_head`` gives, batch axis of 1 or none)
    -> corners, score filter, scaling to ``image_shape`` (height, width) pixels, non-max
    suppression per class. Returns scores, boxes (pixels, corners), classes."""
    conf, xy, hw, probs = yolo_outputs
    boxes = yolo_boxes_to_corners(xy, hw)
    scores, boxes, classes = yolo_filter_boxes(conf, boxes, probs, score_threshold)
    boxes = scale_boxes(boxes, image_shape)
    keep = batched_nms(boxes, scores, classes, iou_threshold, max_boxes)
    return scores[keep], boxes[keep], classes[keep]


def yolo_detect(output: Any, anchors: Any, image_shape: Sequence[float], max_boxes: int = 10,
                score_threshold: float = 0.6, iou_threshold: float = 0.5
                ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``yolo_eval`` on every image of a batch's raw output: a list of (scores, boxes,
    classes) per image."""
    conf, xy, hw, probs = yolo_head(output, anchors)
    return [yolo_eval((conf[i], xy[i], hw[i], probs[i]), image_shape, max_boxes,
                      score_threshold, iou_threshold) for i in range(len(conf))]


def boxes_hw(boxes: Sequence[Any], image_shape: Sequence[int]) -> np.ndarray:
    """All boxes' (h, w) as image fractions, for ``kmeans_anchors``."""
    b = np.concatenate([np.asarray(x, np.float64).reshape(-1, 4) for x in boxes])
    return np.stack([(b[:, 3] - b[:, 1]) / image_shape[0], (b[:, 2] - b[:, 0]) / image_shape[1]],
                    1)

