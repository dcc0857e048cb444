"""Bounding boxes as the notes draw them, in two formats (last axis of length 4):

- corners ``(x1, y1, x2, y2)``: top-left and bottom-right, x to the right, y down, x2 >= x1;
- centre ``(b_x, b_y, b_h, b_w)``: the midpoint, then height and width (the notes' order).

IoU = area(A ∩ B) / area(A ∪ B) (the notes' intersection over union; a box of zero area has
IoU 0 with everything, never NaN). Non-max suppression as the notes: take the highest-scoring
box, discard the others whose IoU with it exceeds the threshold, repeat.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import array_module, to_numpy
from dlkit.errors import ShapeError


def _as_boxes(boxes: Any, op: str, check_order: bool = True) -> Any:
    """Boxes as a float array (..., 4); corners checked for x2 >= x1 and y2 >= y1."""
    xp = array_module(boxes)
    b = xp.asarray(boxes)
    if b.dtype.kind != "f":
        b = b.astype(np.float64)
    if b.ndim == 0 or b.shape[-1] != 4:
        raise ShapeError(f"{op}: expected boxes of shape (..., 4), got {tuple(b.shape)}")
    if check_order and b.size:
        bad_x, bad_y = b[..., 2] < b[..., 0], b[..., 3] < b[..., 1]
        for bad, axis in ((bad_x, "x"), (bad_y, "y")):
            if bool(bad.any()):
                where = tuple(int(i) for i in np.argwhere(to_numpy(bad))[0])
                box = [float(v) for v in to_numpy(b[where])]
                raise ValueError(
                    f"{op}: box {where[0] if len(where) == 1 else where} = {box} has "
                    f"{axis}2 < {axis}1; boxes are corners (x1, y1, x2, y2) with x2 >= x1 and "
                    f"y2 >= y1 (centre boxes (b_x, b_y, b_h, b_w)? convert them with "
                    f"centers_to_corners)")
    return b


def check_boxes(boxes: Any, op: str = "check_boxes") -> Any:
    """The boxes as a float array (..., 4), after checking they are valid corners."""
    return _as_boxes(boxes, op)


def corners_to_centers(boxes: Any) -> Any:
    """(x1, y1, x2, y2) -> (b_x, b_y, b_h, b_w) = ((x1+x2)/2, (y1+y2)/2, y2-y1, x2-x1)."""
    b = _as_boxes(boxes, "corners_to_centers")
    xp = array_module(b)
    x1, y1, x2, y2 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return xp.stack([(x1 + x2) / 2, (y1 + y2) / 2, y2 - y1, x2 - x1], axis=-1)


def centers_to_corners(boxes: Any) -> Any:
    """(b_x, b_y, b_h, b_w) -> (x1, y1, x2, y2) = (b_x - b_w/2, b_y - b_h/2, b_x + b_w/2,
    b_y + b_h/2); negative heights or widths are an error."""
    b = _as_boxes(boxes, "centers_to_corners", check_order=False)
    xp = array_module(b)
    bx, by, bh, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    if b.size and bool(((bh < 0) | (bw < 0)).any()):
        raise ValueError("centers_to_corners: expected b_h >= 0 and b_w >= 0 in centre boxes "
                         "(b_x, b_y, b_h, b_w); got a negative size")
    return xp.stack([bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2], axis=-1)


def box_area(boxes: Any) -> Any:
    """(x2 - x1) * (y2 - y1) for corner boxes (..., 4) -> (...)."""
    b = _as_boxes(boxes, "box_area")
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def box_iou(a: Any, b: Any) -> Any:
    """Pairwise IoU of corner boxes a (N, 4) and b (M, 4) -> (N, M):
    inter = max(0, min(x2) - max(x1)) * max(0, min(y2) - max(y1)),
    IoU = inter / (area_a + area_b - inter), and 0 where the union is 0."""
    a, b = _as_boxes(a, "box_iou"), _as_boxes(b, "box_iou")
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"box_iou: expected two arrays of boxes (N, 4) and (M, 4), got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}; one box? use box[None]")
    xp = array_module(a)
    dtype = np.result_type(a.dtype, b.dtype)
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    iw = xp.minimum(a[:, None, 2], b[None, :, 2]) - xp.maximum(a[:, None, 0], b[None, :, 0])
    ih = xp.minimum(a[:, None, 3], b[None, :, 3]) - xp.maximum(a[:, None, 1], b[None, :, 1])
    inter = xp.clip(iw, 0, None) * xp.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    positive = union > 0
    return xp.where(positive, inter / xp.where(positive, union, 1), 0).astype(dtype, copy=False)


def _check_scores(scores: Any, n: int, op: str) -> Any:
    xp = array_module(scores)
    s = xp.asarray(scores)
    if s.shape != (n,):
        raise ShapeError(f"{op}: expected scores of shape ({n},) for {n} boxes, got "
                         f"{tuple(s.shape)}")
    if s.size and not bool(xp.isfinite(s).all()):
        raise ValueError(f"{op}: scores must be finite")
    return s


def _nms_sorted(boxes: Any, iou_threshold: float, max_boxes: int | None) -> list[int]:
    """Greedy NMS over boxes already sorted by descending score; positions in that order.
    One vectorized IoU row per kept box (the loop runs over kept boxes, not over pairs)."""
    xp = array_module(boxes)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    alive = xp.arange(boxes.shape[0])
    keep: list[int] = []
    while alive.size and (max_boxes is None or len(keep) < max_boxes):
        i, rest = int(alive[0]), alive[1:]
        keep.append(i)
        iw = xp.minimum(x2[i], x2[rest]) - xp.maximum(x1[i], x1[rest])
        ih = xp.minimum(y2[i], y2[rest]) - xp.maximum(y1[i], y1[rest])
        inter = xp.clip(iw, 0, None) * xp.clip(ih, 0, None)
        union = areas[i] + areas[rest] - inter
        iou = xp.where(union > 0, inter / xp.where(union > 0, union, 1), 0)
        alive = rest[iou <= iou_threshold]
    return keep


def nms(boxes: Any, scores: Any, iou_threshold: float = 0.5,
        max_boxes: int | None = None) -> Any:
    """Non-max suppression: indices (int64) of the kept boxes in descending score order
    (ties: the earlier box first). A box is discarded when its IoU with a kept box is
    greater than ``iou_threshold``; at most ``max_boxes`` are kept."""
    b = _as_boxes(boxes, "nms")
    if b.ndim != 2:
        raise ShapeError(f"nms: expected boxes (N, 4), got {tuple(b.shape)}")
    s = _check_scores(scores, b.shape[0], "nms")
    if not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"nms: expected iou_threshold in [0, 1], got {iou_threshold}")
    if max_boxes is not None and max_boxes < 0:
        raise ValueError(f"nms: expected max_boxes >= 0 or None, got {max_boxes}")
    xp = array_module(b)
    order = xp.argsort(-s, kind="stable")
    keep = _nms_sorted(b[order], float(iou_threshold), max_boxes)
    return order[xp.asarray(keep, dtype=np.int64)].astype(np.int64)


def batched_nms(boxes: Any, scores: Any, labels: Any, iou_threshold: float = 0.5,
                max_boxes: int | None = None) -> Any:
    """NMS within each class: boxes of different ``labels`` never suppress each other.
    Indices of the kept boxes in descending score order over all classes (at most
    ``max_boxes`` in total). Done as one NMS on boxes shifted apart per class."""
    b = _as_boxes(boxes, "batched_nms")
    if b.ndim != 2:
        raise ShapeError(f"batched_nms: expected boxes (N, 4), got {tuple(b.shape)}")
    s = _check_scores(scores, b.shape[0], "batched_nms")
    xp = array_module(b)
    lab = xp.asarray(labels)
    if lab.shape != (b.shape[0],):
        raise ShapeError(f"batched_nms: expected labels of shape ({b.shape[0]},), got "
                         f"{tuple(lab.shape)}")
    if b.shape[0] == 0:
        return xp.zeros(0, dtype=np.int64)
    b = b.astype(np.float64)
    span = float(b.max() - b.min()) + 1.0
    _, group = xp.unique(lab, return_inverse=True)
    shifted = b + (group.reshape(-1).astype(np.float64) * span)[:, None]
    return nms(shifted, s, iou_threshold, max_boxes)


def scale_boxes(boxes: Any, image_shape: Any) -> Any:
    """Boxes in [0, 1] image fractions -> pixels: times (width, height, width, height) for an
    image of shape (height, width) (the course's scale_boxes)."""
    b = _as_boxes(boxes, "scale_boxes")
    xp = array_module(b)
    if len(image_shape) < 2:
        raise ValueError(f"scale_boxes: expected image_shape (height, width), got "
                         f"{image_shape!r}")
    h, w = float(image_shape[0]), float(image_shape[1])
    return b * xp.asarray([w, h, w, h], dtype=b.dtype)


def clip_boxes(boxes: Any, image_shape: Any) -> Any:
    """Corner boxes clipped to an image of shape (height, width): x in [0, width],
    y in [0, height]."""
    b = _as_boxes(boxes, "clip_boxes")
    xp = array_module(b)
    h, w = float(image_shape[0]), float(image_shape[1])
    out = b.copy()
    out[..., 0::2] = xp.clip(out[..., 0::2], 0, w)
    out[..., 1::2] = xp.clip(out[..., 1::2], 0, h)
    return out
