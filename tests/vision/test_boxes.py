"""Boxes: formats, IoU (the course's worked example, pycocotools), NMS (a plain reference and
OpenCV), batched NMS, scaling and clipping, errors."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.errors import ShapeError
from dlkit.vision import boxes as B


def random_boxes(rng, n, size=100.0, degenerate=0.1):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, size / 3, (n, 2))
    wh[rng.random(n) < degenerate] = 0.0  # some zero-area boxes
    return np.concatenate([xy, xy + wh], axis=1)


def reference_iou(a, b):
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = iw * ih
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def reference_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(reference_iou(boxes[[i]], boxes[[k]])[0, 0] <= thr for k in keep):
            keep.append(i)
    return keep


def test_course_iou_example():
    # the course's worked example: box1 = (2, 1, 4, 3), box2 = (1, 2, 3, 4) -> 1/7
    iou = B.box_iou(np.array([[2, 1, 4, 3]]), np.array([[1, 2, 3, 4]]))
    assert iou.shape == (1, 1)
    np.testing.assert_allclose(iou[0, 0], 1 / 7, rtol=1e-12)
    # no overlap, touching at a vertex or an edge, identical
    a = np.array([[1, 2, 3, 4]], float)
    assert B.box_iou(a, np.array([[5, 6, 7, 8]]))[0, 0] == 0
    assert B.box_iou(a, np.array([[3, 4, 5, 6]]))[0, 0] == 0
    assert B.box_iou(a, np.array([[3, 2, 5, 4]]))[0, 0] == 0
    assert B.box_iou(a, a)[0, 0] == 1


def test_iou_matches_reference_and_is_finite(rng):
    a, b = random_boxes(rng, 30), random_boxes(rng, 20)
    a[3] = b[5]  # identical pair
    a[4] = [10, 10, 10, 10]  # zero-area box
    b[6] = [10, 10, 10, 10]
    iou = B.box_iou(a, b)
    assert iou.shape == (30, 20) and iou.dtype == np.float64
    assert np.isfinite(iou).all()
    np.testing.assert_allclose(iou, reference_iou(a, b), atol=1e-12)
    assert iou[4, 6] == 0  # two identical points: union 0 -> IoU 0, not NaN
    assert B.box_iou(a.astype(np.float32), b.astype(np.float32)).dtype == np.float32


def test_iou_matches_pycocotools(rng):
    mask = pytest.importorskip("pycocotools.mask")
    a, b = random_boxes(rng, 25, degenerate=0), random_boxes(rng, 15, degenerate=0)
    xywh = lambda x: np.concatenate([x[:, :2], x[:, 2:] - x[:, :2]], 1)  # noqa: E731
    expected = mask.iou(xywh(a), xywh(b), [0] * len(b))
    np.testing.assert_allclose(B.box_iou(a, b), expected, atol=1e-9)


def test_formats_round_trip(rng):
    corners = random_boxes(rng, 10)
    centers = B.corners_to_centers(corners)
    np.testing.assert_allclose(centers[0], [(corners[0, 0] + corners[0, 2]) / 2,
                                            (corners[0, 1] + corners[0, 3]) / 2,
                                            corners[0, 3] - corners[0, 1],
                                            corners[0, 2] - corners[0, 0]])
    np.testing.assert_allclose(B.centers_to_corners(centers), corners, atol=1e-12)
    # the notes' example label: b_x = 0.45, b_y = 0.7, b_h = b_w = 0.4
    np.testing.assert_allclose(B.centers_to_corners([0.45, 0.7, 0.4, 0.4]),
                               [0.25, 0.5, 0.65, 0.9])


@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_matches_reference(rng, thr):
    boxes = random_boxes(rng, 60, size=50)
    boxes[10] = boxes[11]  # duplicates
    boxes[13], boxes[12] = [5, 5, 30, 30], [6, 6, 29, 29]  # nested
    scores = rng.random(60).round(1)  # many ties
    keep = B.nms(boxes, scores, thr)
    assert keep.dtype == np.int64
    assert keep.tolist() == reference_nms(boxes, scores, thr)
    assert np.all(np.diff(scores[keep]) <= 0)
    assert B.nms(boxes, scores, thr, max_boxes=3).tolist() == keep[:3].tolist()


def test_nms_matches_opencv(rng):
    cv2 = pytest.importorskip("cv2")
    boxes = random_boxes(rng, 300, size=100, degenerate=0)
    scores = rng.uniform(0.01, 1, 300)
    rects = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in boxes]
    expected = np.asarray(cv2.dnn.NMSBoxes(rects, scores.tolist(), 0.0, 0.45)).reshape(-1)
    keep = B.nms(boxes, scores, 0.45)
    assert keep.tolist() == expected.tolist()


def test_nms_keeps_separate_and_drops_overlapping():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float)
    assert B.nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
    assert B.nms(boxes, np.array([0.6, 0.8, 0.7]), 0.5).tolist() == [1, 2]
    assert B.nms(boxes, np.array([0.9, 0.8, 0.7]), 0.9).tolist() == [0, 1, 2]
    assert B.nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []


def test_batched_nms_per_class(rng):
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.8, 0.85, 0.1])
    labels = np.array([0, 0, 1, 1])
    assert B.batched_nms(boxes, scores, labels, 0.5).tolist() == [0, 2, 3]
    # agrees with NMS run class by class
    boxes, scores = random_boxes(rng, 80, size=40), rng.random(80)
    labels = rng.integers(0, 3, 80)
    keep = B.batched_nms(boxes, scores, labels, 0.4)
    expected = []
    for c in range(3):
        idx = np.flatnonzero(labels == c)
        expected += idx[B.nms(boxes[idx], scores[idx], 0.4)].tolist()
    assert sorted(keep.tolist()) == sorted(expected)
    assert np.all(np.diff(scores[keep]) <= 0)


def test_scale_and_clip():
    b = np.array([[0.1, 0.2, 0.5, 1.0]])
    np.testing.assert_allclose(B.scale_boxes(b, (100, 200)), [[20, 20, 100, 100]])
    np.testing.assert_allclose(B.clip_boxes([[-5, 3, 250, 120]], (100, 200)),
                               [[0, 3, 200, 100]])


def test_errors():
    with pytest.raises(ValueError, match="x2 < x1"):
        B.box_iou(np.array([[5, 0, 1, 4]]), np.array([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="y2 < y1"):
        B.nms(np.array([[0, 5, 1, 4]]), np.array([1.0]))
    with pytest.raises(ShapeError, match=r"\(\.\.\., 4\)"):
        B.box_iou(np.zeros((3, 5)), np.zeros((2, 4)))
    with pytest.raises(ShapeError, match="box\\[None\\]"):
        B.box_iou(np.array([0, 0, 1, 1]), np.zeros((2, 4)))
    with pytest.raises(ShapeError, match="scores"):
        B.nms(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="iou_threshold"):
        B.nms(np.zeros((3, 4)), np.zeros(3), 1.5)
    with pytest.raises(ValueError, match="negative"):
        B.centers_to_corners([0, 0, -1, 1])
