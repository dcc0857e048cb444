"""The small R-CNN: colour-blob proposals cover the objects, proposals are labelled by IoU, and
a region classifier on warped regions detects the shapes."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.vision.boxes import box_iou
from dlkit.vision.evaluation import evaluate_detections
from dlkit.vision.rcnn import RegionClassifier, label_proposals, propose_regions
from dlkit.vision.shapes import make_shapes

pytest.importorskip("scipy")


def test_proposals_cover_separate_objects():
    data = make_shapes(20, 48, max_objects=2, max_overlap=0.0, seed=0)
    recalls = []
    for image, boxes in zip(data.images, data.boxes):
        props = propose_regions(image)
        assert props.shape[1] == 4
        recalls.append((box_iou(boxes, props).max(axis=1) >= 0.5).mean() if len(props) else 0)
    assert np.mean(recalls) > 0.8


def test_label_proposals():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    props = np.array([[0, 0, 10, 10], [1, 1, 11, 12], [40, 40, 45, 45], [0, 0, 10, 25]], float)
    assert label_proposals(props, gt, np.array([2, 0])).tolist() == [3, 3, 0, -1]
    assert label_proposals(props, np.zeros((0, 4)), np.zeros(0)).tolist() == [0, 0, 0, 0]


def test_region_classifier_detects_shapes():
    dl.manual_seed(0)
    train = make_shapes(120, 48, max_objects=2, max_overlap=0.0, seed=0)
    test = make_shapes(30, 48, max_objects=2, max_overlap=0.0, seed=1)
    rcnn = RegionClassifier(3, size=16, widths=(8, 16))
    rcnn.fit(train, epochs=6)
    dets = rcnn.detect(test.images)
    report = evaluate_detections([(b, s, c) for s, b, c in dets],
                                 list(zip(test.boxes, test.labels)), test.class_names)
    assert report.map50 > 0.5, report.table()
