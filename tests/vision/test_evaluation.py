"""mAP: all-point AP on a hand example, agreement with pycocotools' COCO evaluation on
synthetic predictions, the PR-curve picture."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from dlkit.vision.evaluation import average_precision, evaluate_detections, plot_pr_curves


def test_all_point_ap_by_hand():
    # 3 ground truths; detections by score: TP, FP, TP, FP, TP
    flags = np.array([1, 0, 1, 0, 1], bool)
    tp, fp = np.cumsum(flags), np.cumsum(~flags)
    recall, precision = tp / 3, tp / (tp + fp)
    # envelope: 1 on (0, 1/3], 2/3 on (1/3, 2/3], 3/5 on (2/3, 1]
    assert average_precision(recall, precision) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert average_precision([], []) == 0.0
    # 101-point: recalls 0..0.33 -> 1 (34 points), 0.34..0.66 -> 2/3, 0.67..1 -> 3/5
    assert average_precision(recall, precision, "coco") == pytest.approx(
        (34 * 1 + 33 * 2 / 3 + 34 * 3 / 5) / 101)
    with pytest.raises(ValueError, match="method"):
        average_precision(recall, precision, "11")


def test_perfect_and_empty_detections():
    gts = [(np.array([[0, 0, 10, 10], [20, 20, 40, 40]]), np.array([0, 1]))]
    dets = [(gts[0][0], np.array([0.9, 0.8]), gts[0][1])]
    report = evaluate_detections(dets, gts, ["a", "b", "c"])
    assert report.map50 == 1.0 and report.coco_map == 1.0
    assert np.isnan(report.ap50[2])  # no ground truth for "c": left out of the mean
    none = evaluate_detections([(np.zeros((0, 4)), np.zeros(0), np.zeros(0))], gts, 3)
    assert none.map50 == 0.0
    assert "mAP" in report.table() and report.to_dict()["per_class"]["c"]["ap50"] is None


def synthetic_predictions(rng, n_images=30, n_classes=3):
    gts, dets = [], []
    for _ in range(n_images):
        k = rng.integers(1, 6)
        xy = rng.uniform(0, 80, (k, 2))
        boxes = np.hstack([xy, xy + rng.uniform(5, 30, (k, 2))])
        labels = rng.integers(0, n_classes, k)
        gts.append((boxes, labels))
        jitter = boxes + rng.normal(0, 3, boxes.shape)  # near misses and hits
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)
        extra_xy = rng.uniform(0, 80, (3, 2))
        extra = np.hstack([extra_xy, extra_xy + rng.uniform(5, 30, (3, 2))])
        d_boxes = np.vstack([jitter, jitter[:1] + 1, extra])
        d_labels = np.concatenate([np.where(rng.random(k) < 0.85, labels, (labels + 1) % 3),
                                   labels[:1], rng.integers(0, n_classes, 3)])
        dets.append((d_boxes, rng.random(len(d_boxes)), d_labels))
    return dets, gts


def test_matches_pycocotools(rng):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    dets, gts = synthetic_predictions(rng)
    report = evaluate_detections(dets, gts, 3)
    images, annotations, results = [], [], []
    for i, ((g_boxes, g_labels), (d_boxes, d_scores, d_labels)) in enumerate(zip(gts, dets)):
        images.append({"id": i, "width": 120, "height": 120})
        for box, label in zip(g_boxes, g_labels):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append({"id": len(annotations) + 1, "image_id": i, "iscrowd": 0,
                                "category_id": int(label), "area": float(w * h),
                                "bbox": [float(box[0]), float(box[1]), float(w), float(h)]})
        for box, score, label in zip(d_boxes, d_scores, d_labels):
            results.append({"image_id": i, "category_id": int(label), "score": float(score),
                            "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]),
                                     float(box[3] - box[1])]})
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": annotations,
                        "categories": [{"id": c, "name": str(c)} for c in range(3)]}
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert report.coco_map == pytest.approx(evaluator.stats[0], abs=1e-9)
    assert report.coco_map50 == pytest.approx(evaluator.stats[1], abs=1e-9)
    assert 0.2 < report.map50 < 0.95  # the test is not trivial


def test_pr_curve_picture(rng, tmp_path):
    pytest.importorskip("matplotlib")
    dets, gts = synthetic_predictions(rng, 10)
    path = tmp_path / "pr.png"
    plot_pr_curves(evaluate_detections(dets, gts, ["circle", "square", "triangle"]), path)
    assert path.stat().st_size > 5000
