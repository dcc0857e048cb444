"""Region proposals, the notes' "optional" R-CNN family, small: propose regions with a
segmentation algorithm, classify each warped region, keep the best with non-max suppression.

- ``propose_regions``: the notes' colour blobs: pixels that stand out from the muted
  background (their brightest channel above a threshold), split into connected components,
  each blob's box and a few rescaled copies (R-CNN's ~2000 proposals, here a handful);
- ``RegionClassifier``: each proposal is cut out and warped to a fixed size with ``roi_align``
  (Fast R-CNN's op, here on the image itself, as R-CNN warps pixels) and classified by a small
  CNN into background + C classes; a proposal is labelled with the class of the ground-truth
  box it overlaps with IoU >= 0.5, background below 0.3 (in between: not trained on);
- ``detect``: score = the best class probability, per-class NMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import dlkit as dl
from dlkit.models.cnn import simple_cnn
from dlkit.ops.roi import roi_align
from dlkit.vision.boxes import batched_nms, box_iou, clip_boxes


def propose_regions(image: np.ndarray, threshold: float = 0.7, min_pixels: int = 6,
                    scales: Sequence[float] = (1.0, 0.85, 1.2)) -> np.ndarray:
    """Corner boxes (k, 4) of the bright connected blobs of ``image`` (H, W, 3), each at a
    few scales about its centre, clipped to the image."""
    try:
        from scipy import ndimage
    except ImportError as e:
        raise ImportError('propose_regions needs scipy: pip install "dlkit[data]"') from e
    blobs, n = ndimage.label(image.max(axis=-1) > threshold)
    boxes = []
    for sl in ndimage.find_objects(blobs):
        if sl is None:
            continue
        ys, xs = sl
        if (ys.stop - ys.start) * (xs.stop - xs.start) < min_pixels:
            continue
        cx, cy = (xs.start + xs.stop) / 2, (ys.start + ys.stop) / 2
        w, h = xs.stop - xs.start, ys.stop - ys.start
        for s in scales:
            boxes.append([cx - s * w / 2, cy - s * h / 2, cx + s * w / 2, cy + s * h / 2])
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return clip_boxes(b, image.shape[:2])


def label_proposals(proposals: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                    positive: float = 0.5, negative: float = 0.3) -> np.ndarray:
    """1 + the class of the best-overlapping ground truth (IoU >= positive), 0 for background
    (IoU < negative), -1 for neither (ignored)."""
    if len(proposals) == 0:
        return np.zeros(0, np.int64)
    if len(gt_boxes) == 0:
        return np.zeros(len(proposals), np.int64)
    iou = box_iou(proposals, gt_boxes)
    best, which = iou.max(axis=1), iou.argmax(axis=1)
    out = np.full(len(proposals), -1, np.int64)
    out[best < negative] = 0
    pos = best >= positive
    out[pos] = 1 + np.asarray(gt_labels)[which[pos]]
    return out


class RegionClassifier:
    """Warp each region to ``size`` x ``size`` (roi_align) and classify it (background +
    ``n_classes``) with ``simple_cnn``."""

    def __init__(self, n_classes: int, size: int = 16, widths: Sequence[int] = (16, 32)):
        self.n_classes, self.size = n_classes, size
        self.model = simple_cnn((size, size, 3), n_classes + 1, widths)

    def warp(self, images: np.ndarray, rois: np.ndarray) -> np.ndarray:
        """Regions (K, size, size, 3) of ``rois`` (K, 5) = (image index, x1, y1, x2, y2)."""
        with dl.no_grad():
            return roi_align(images, rois, self.size, 1.0, 2, aligned=True).data

    def regions(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """Every image's proposals as rois (K, 5) and their training labels."""
        rois, labels = [], []
        for i, (image, boxes, classes) in enumerate(zip(data.images, data.boxes, data.labels)):
            props = propose_regions(image)
            rois.append(np.column_stack([np.full(len(props), i), props]))
            labels.append(label_proposals(props, boxes, classes))
        return np.concatenate(rois), np.concatenate(labels)

    def fit(self, data: Any, epochs: int = 10, batch_size: int = 64, lr: float = 0.003):
        rois, labels = self.regions(data)
        keep = labels >= 0
        x = self.warp(data.images.astype(np.float32), rois[keep]).astype(np.float32)
        opt = dl.optim.Adam(self.model.parameters(), lr=lr)
        return dl.train.fit(self.model, "cross_entropy", opt, x, labels[keep], epochs=epochs,
                            batch_size=batch_size)

    def detect(self, images: np.ndarray, iou_threshold: float = 0.3, min_score: float = 0.05
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(scores, boxes, classes) per image: proposals -> warp -> classify -> NMS."""
        self.model.eval()
        out = []
        for image in images:
            props = propose_regions(image)
            if len(props) == 0:
                out.append((np.zeros(0), np.zeros((0, 4)), np.zeros(0, np.int64)))
                continue
            rois = np.column_stack([np.zeros(len(props)), props])
            x = self.warp(image[None].astype(np.float32), rois).astype(np.float32)
            with dl.no_grad():
                z = self.model(dl.tensor(x)).data
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            classes = p[:, 1:].argmax(axis=1)
            scores = p[:, 1:].max(axis=1)
            ok = scores >= min_score
            props, scores, classes = props[ok], scores[ok], classes[ok]
            keep = batched_nms(props, scores, classes, iou_threshold)
            out.append((scores[keep], props[keep], classes[keep]))
        return out
