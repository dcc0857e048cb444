"""YOLO: target encoding (cell of the midpoint, best anchor), k-means anchors (1 - IoU), the
loss (a NumPy reference from the formula, float64 gradient check), decoding as the course
(yolo_head -> corners -> filter -> scale -> NMS), and a small YOLO that learns the shapes."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.models import YOLOSmall
from dlkit.vision import yolo as Y
from dlkit.vision.evaluation import evaluate_detections
from dlkit.vision.shapes import make_shapes

ANCHORS = np.array([[0.2, 0.2], [0.5, 0.25], [0.25, 0.5]])


def logit(p):
    return np.log(p / (1 - p))


def test_encode_targets_cell_anchor_and_values():
    # a 100 x 200 (h x w) image, 4 x 4 grid; a wide box centred at (x=130, y=40)
    boxes = [np.array([[100, 30, 160, 50], [10, 10, 30, 50], [110, 26, 150, 54]], float)]
    labels = [np.array([2, 0, 1])]
    y = Y.encode_targets(boxes, labels, (100, 200), 4, ANCHORS, 3)
    assert y.shape == (1, 4, 4, 3, 8) and y.dtype == np.float32
    assert y[..., 0].sum() == 3
    # box 0: midpoint (130, 40) -> cell row 1 (40 / 25), col 2 (130 / 50); h 0.2, w 0.3:
    # centred IoU with (0.2, 0.2) is 0.667, with (0.5, 0.25) 0.24, (0.25, 0.5) 0.48 -> anchor 0
    np.testing.assert_allclose(y[0, 1, 2, 0], [1, 0.6, 0.6, 0.2, 0.3, 0, 0, 1], atol=1e-6)
    # box 2 (same cell, h 0.28 w 0.2) would take anchor 0 too, but it is taken: next best
    assert y[0, 1, 2, 1:, 0].sum() == 1 and y[0, 1, 2, :, 6].sum() == 1
    # box 1: midpoint (20, 30) -> row 1, col 0; h 0.4, w 0.1: IoU 0.333 with (0.2, 0.2),
    # 0.32 with (0.5, 0.25), 0.179 with (0.25, 0.5) -> anchor 0
    np.testing.assert_allclose(y[0, 1, 0, 0, :6], [1, 0.4, 0.2, 0.4, 0.1, 1], atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        Y.encode_targets(boxes, [np.array([2, 0, 3])], (100, 200), 4, ANCHORS, 3)
    with pytest.raises(ValueError, match="x2 < x1"):
        Y.encode_targets([np.array([[5, 0, 1, 4]])], [np.array([0])], (10, 10), 2, ANCHORS, 3)


def test_kmeans_anchors_finds_the_clusters(rng):
    tall = np.column_stack([rng.normal(0.4, 0.01, 50), rng.normal(0.1, 0.005, 50)])
    wide = np.column_stack([rng.normal(0.1, 0.005, 60), rng.normal(0.4, 0.01, 60)])
    small = np.column_stack([rng.normal(0.05, 0.002, 40), rng.normal(0.05, 0.002, 40)])
    anchors = Y.kmeans_anchors(np.vstack([tall, wide, small]), 3, seed=0)
    assert anchors.shape == (3, 2)
    np.testing.assert_allclose(anchors[0], [0.05, 0.05], atol=0.005)  # sorted by area
    found = {tuple(np.round(a, 1)) for a in anchors[1:]}
    assert found == {(0.4, 0.1), (0.1, 0.4)}
    with pytest.raises(ValueError, match="at least k"):
        Y.kmeans_anchors(tall[:2], 3)


def reference_loss(pred, y, anchors, lc=5.0, ln=0.5):
    obj = y[..., 0]
    sig = 1 / (1 + np.exp(-pred))
    bce = np.maximum(pred[..., 0], 0) - pred[..., 0] * obj + np.log1p(np.exp(-abs(pred[..., 0])))
    total = 0.0
    for idx in np.ndindex(obj.shape):
        a = anchors[idx[-1]]
        if obj[idx]:
            p, t = pred[idx], y[idx]
            total += lc * ((sig[idx][1] - t[1]) ** 2 + (sig[idx][2] - t[2]) ** 2
                           + (p[3] - np.log(t[3] / a[0])) ** 2 + (p[4] - np.log(t[4] / a[1])) ** 2)
            z = p[5:]
            total += bce[idx] + np.log(np.exp(z - z.max()).sum()) + z.max() - z[t[5:].argmax()]
        else:
            total += ln * bce[idx]
    return total / obj.shape[0]


def random_targets(rng, m=2, s=3, n_classes=3):
    boxes, labels = [], []
    for _ in range(m):
        k = 3
        xy = rng.uniform(5, 80, (k, 2))
        wh = rng.uniform(4, 20, (k, 2))
        boxes.append(np.hstack([xy, xy + wh]))
        labels.append(rng.integers(0, n_classes, k))
    return Y.encode_targets(boxes, labels, (100, 100), s, ANCHORS, n_classes).astype(np.float64)


def test_loss_matches_the_formula_and_gradient_check(rng):
    y = random_targets(rng)
    pred = rng.standard_normal(y.shape)
    loss = Y.YoloLoss(ANCHORS)
    value = float(loss(pred, y).data)
    assert value == pytest.approx(reference_loss(pred, y, ANCHORS), rel=1e-10)
    assert set(loss.terms) == {"xy", "hw", "obj", "noobj", "class"}
    diff = dl.gradient_check(lambda p: Y.YoloLoss(ANCHORS, 3.0, 0.7)(p, y), [pred])
    assert diff < 2e-7


def perfect_output(y, anchors, confident=12.0):
    """Raw outputs that decode exactly to the targets' boxes and classes."""
    out = np.full(y.shape, -confident)
    obj = y[..., 0] > 0
    out[..., 1:5] = 0
    out[obj, 1:3] = logit(np.clip(y[obj, 1:3], 1e-6, 1 - 1e-6))
    a = np.broadcast_to(anchors, y.shape[:-1] + (2,))
    out[obj, 3:5] = np.log(y[obj, 3:5] / a[obj])
    out[obj, 0] = confident
    out[obj, 5:] = np.where(y[obj, 5:] > 0, confident, -confident)
    return out


def test_decoding_recovers_the_encoded_boxes(rng):
    boxes = [np.array([[20, 10, 60, 40], [70, 60, 95, 98]], float)]
    labels = [np.array([1, 2])]
    y = Y.encode_targets(boxes, labels, (100, 120), 4, ANCHORS, 3).astype(np.float64)
    out = perfect_output(y, ANCHORS)
    conf, xy, hw, probs = Y.yolo_head(out, ANCHORS)
    assert conf.shape == (1, 4, 4, 3, 1) and probs.shape == (1, 4, 4, 3, 3)
    scores, got, classes = Y.yolo_eval((conf[0], xy[0], hw[0], probs[0]), (100, 120))
    order = np.argsort(classes)
    np.testing.assert_allclose(got[order], boxes[0], atol=1e-3)
    assert classes[order].tolist() == [1, 2] and (scores > 0.99).all()
    assert Y.yolo_loss(out, y, ANCHORS).data < 0.01
    # the batch form gives the same
    [(s2, b2, c2)] = Y.yolo_detect(out, ANCHORS, (100, 120))
    np.testing.assert_allclose(b2, got)


def test_filter_and_nms_as_the_course():
    conf = np.array([[0.9], [0.9], [0.5], [0.95]])
    probs = np.array([[0.1, 0.9], [0.2, 0.8], [0.0, 1.0], [0.7, 0.3]])
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], float)
    scores, kept, classes = Y.yolo_filter_boxes(conf, boxes, probs, threshold=0.6)
    np.testing.assert_allclose(scores, [0.81, 0.72, 0.665])
    assert classes.tolist() == [1, 1, 0] and kept.shape == (3, 4)
    # NMS per class: box 1 (IoU 0.68 with box 0, same class) goes; box 3 (class 0) stays
    xy = (boxes[:, :2] + boxes[:, 2:]) / 2 / 100
    hw = (boxes[:, 2:] - boxes[:, :2])[:, ::-1] / 100
    s, b, c = Y.yolo_eval((conf, xy, hw, probs), (100, 100))
    assert c.tolist() == [1, 0] and np.allclose(b, boxes[[0, 3]])


def test_errors():
    loss = Y.YoloLoss(ANCHORS)
    with pytest.raises(ShapeError, match="reshape"):
        loss(np.zeros((1, 4, 4, 24)), np.zeros((1, 4, 4, 24)))
    with pytest.raises(ShapeError, match="encode_targets"):
        loss(np.zeros((1, 4, 4, 3, 8)), np.zeros((1, 2, 2, 3, 8)))
    with pytest.raises(ValueError, match="anchors"):
        Y.YoloLoss([[0.2, -0.1]])
    with pytest.raises(ShapeError, match="multiples of 8"):
        YOLOSmall(widths=(4, 4, 4))(dl.tensor(np.zeros((1, 20, 20, 3), np.float32)))


def test_small_yolo_learns_the_shapes():
    dl.manual_seed(0)
    size = 32
    train = make_shapes(400, size, max_objects=2, size_range=(0.2, 0.3), seed=0)
    test = make_shapes(60, size, max_objects=2, size_range=(0.2, 0.3), seed=1)
    anchors = Y.kmeans_anchors(Y.boxes_hw(train.boxes, (size, size)), 2, seed=0)
    net = YOLOSmall(3, 3, 2, widths=(8, 16, 32), head=32)
    y = Y.encode_targets(train.boxes, train.labels, (size, size), size // net.stride,
                         anchors, 3)
    opt = dl.optim.Adam(net.parameters(), lr=0.005)
    history = dl.train.fit(net, Y.YoloLoss(anchors), opt, train.images, y, epochs=10,
                           batch_size=16, metrics=())
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    net.eval()
    with dl.no_grad():
        out = net(dl.tensor(test.images))
    dets = Y.yolo_detect(out, anchors, (size, size), score_threshold=0.05)
    report = evaluate_detections([(b, s, c) for s, b, c in dets],
                                 list(zip(test.boxes, test.labels)), test.class_names)
    assert report.map50 > 0.55, report.table()  # 0.726 when written
