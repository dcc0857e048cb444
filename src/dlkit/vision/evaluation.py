"""Detection evaluation: precision-recall, average precision, mAP.

Detections of a class, over all images, are sorted by descending score; each is a true
positive when it overlaps (IoU >= t) a ground-truth box of its class in its image not matched
before, else a false positive. Precision = TP / (TP + FP), recall = TP / (number of ground
truths). AP is the area under the precision envelope p(r) = max_{r' >= r} precision(r'):

- ``"all"``: all-point interpolation (Pascal VOC 2010+): sum over recall steps of
  (r_{i+1} - r_i) p(r_{i+1}); a detection is matched to the ground truth of highest IoU.
- ``"coco"``: the mean of p(r) at the 101 recalls 0, 0.01, .., 1 (COCO); a detection is
  matched to the unmatched ground truth of highest IoU; COCO's mAP averages
  t = 0.5, 0.55, .., 0.95.

mAP averages the classes that have ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlkit.vision.boxes import box_iou

COCO_THRESHOLDS = tuple(np.round(np.linspace(0.5, 0.95, 10), 2))


def average_precision(recall: Any, precision: Any, method: str = "all") -> float:
    """AP from a precision-recall curve (points in descending-score order)."""
    r, p = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    if method == "all":
        mrec = np.concatenate([[0.0], r, [1.0]])
        mpre = np.concatenate([[0.0], p, [0.0]])
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]
        steps = np.flatnonzero(mrec[1:] != mrec[:-1])
        return float(((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]).sum())
    if method == "coco":
        if r.size == 0:
            return 0.0
        envelope = np.maximum.accumulate(p[::-1])[::-1]
        at = np.searchsorted(r, np.linspace(0, 1, 101), side="left")
        return float(np.where(at < r.size, envelope[np.minimum(at, r.size - 1)], 0.0).mean())
    raise ValueError(f"average_precision: expected method 'all' or 'coco', got {method!r}")


def _match(det: np.ndarray, gt: np.ndarray, t: float, mode: str) -> np.ndarray:
    """True-positive flags of detections ``det`` (sorted by score) against ``gt``."""
    tp = np.zeros(len(det), bool)
    if len(det) == 0 or len(gt) == 0:
        return tp
    iou = box_iou(det, gt)
    used = np.zeros(len(gt), bool)
    for i in range(len(det)):
        if mode == "voc":
            j = int(iou[i].argmax())
            if iou[i, j] >= t and not used[j]:
                tp[i] = used[j] = True
        else:  # coco: best unmatched ground truth (the last of equal IoU, as pycocotools)
            row = np.where(used, -1.0, iou[i])
            best = row.max()
            if best >= min(t, 1 - 1e-10):
                j = int(len(row) - 1 - row[::-1].argmax())
                tp[i] = used[j] = True
    return tp


@dataclass
class PRCurve:
    recall: np.ndarray
    precision: np.ndarray
    scores: np.ndarray
    n_ground_truth: int


@dataclass
class DetectionReport:
    """``ap[t][c]``: AP of class c at IoU threshold t (NaN when c has no ground truth);
    ``curves[c]``: the PR curve at IoU 0.5; ``map50`` (all-point), ``coco_map`` (0.5:0.95,
    101 points), ``coco_map50``."""

    class_names: tuple[str, ...]
    ap50: np.ndarray
    coco_ap: np.ndarray  # (len(COCO_THRESHOLDS), C)
    curves: list[PRCurve] = field(default_factory=list)

    @property
    def map50(self) -> float:
        return _nanmean(self.ap50)

    @property
    def coco_map(self) -> float:
        return _nanmean(self.coco_per_class) if self.coco_ap.size else float("nan")

    @property
    def coco_per_class(self) -> np.ndarray:
        """Each class's AP averaged over IoU 0.5:0.95 (NaN without ground truth)."""
        return np.array([_nanmean(self.coco_ap[:, c]) for c in range(len(self.class_names))])

    @property
    def coco_map50(self) -> float:
        return _nanmean(self.coco_ap[0])

    def table(self) -> str:
        lines = [f"{'class':<16}{'AP@0.5':>8}{'AP@.5:.95':>11}{'GT':>6}"]
        for c, name in enumerate(self.class_names):
            coco = _nanmean(self.coco_ap[:, c])
            lines.append(f"{name:<16}{self.ap50[c]:>8.3f}{coco:>11.3f}"
                         f"{self.curves[c].n_ground_truth:>6d}")
        lines.append(f"{'mAP':<16}{self.map50:>8.3f}{self.coco_map:>11.3f}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def clean(v: float) -> float | None:
            return None if np.isnan(v) else round(float(v), 6)

        return {"map50": clean(self.map50), "coco_map": clean(self.coco_map),
                "per_class": {name: {"ap50": clean(self.ap50[c]),
                                     "coco_ap": clean(_nanmean(self.coco_ap[:, c]))}
                              for c, name in enumerate(self.class_names)}}


def _nanmean(a: np.ndarray) -> float:
    a = np.asarray(a, np.float64)
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


def _pr(detections, ground_truths, c: int, t: float, mode: str) -> PRCurve:
    flags, scores, n_gt = [], [], 0
    for (d_boxes, d_scores, d_labels), (g_boxes, g_labels) in zip(detections, ground_truths):
        d_boxes = np.asarray(d_boxes, np.float64).reshape(-1, 4)
        d_scores, d_labels = np.asarray(d_scores).reshape(-1), np.asarray(d_labels).reshape(-1)
        g_boxes = np.asarray(g_boxes, np.float64).reshape(-1, 4)
        g_labels = np.asarray(g_labels).reshape(-1)
        gt = g_boxes[g_labels == c]
        n_gt += len(gt)
        mine = np.flatnonzero(d_labels == c)
        mine = mine[np.argsort(-d_scores[mine], kind="mergesort")]
        flags.append(_match(d_boxes[mine], gt, t, mode))
        scores.append(d_scores[mine])
    flag, score = np.concatenate(flags), np.concatenate(scores)
    order = np.argsort(-score, kind="mergesort")
    tp = np.cumsum(flag[order])
    fp = np.cumsum(~flag[order])
    recall = tp / max(n_gt, 1)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return PRCurve(recall, precision, score[order], n_gt)


def evaluate_detections(detections: Sequence[tuple[Any, Any, Any]],
                        ground_truths: Sequence[tuple[Any, Any]],
                        class_names: Sequence[str] | int,
                        coco: bool = True) -> DetectionReport:
    """AP per class and mAP. ``detections[i]`` = (boxes (k, 4), scores (k,), labels (k,)) of
    image i; ``ground_truths[i]`` = (boxes (g, 4), labels (g,)); corner boxes in one unit.
    ``class_names`` the names (or their count). ``coco`` also computes the 0.5:0.95 average."""
    if len(detections) != len(ground_truths):
        raise ValueError(f"evaluate_detections: {len(detections)} images of detections but "
                         f"{len(ground_truths)} of ground truth")
    names = tuple(str(i) for i in range(class_names)) if isinstance(class_names, int) \
        else tuple(class_names)
    n = len(names)
    ap50, curves = np.full(n, np.nan), []
    for c in range(n):
        curve = _pr(detections, ground_truths, c, 0.5, "voc")
        curves.append(curve)
        if curve.n_ground_truth:
            ap50[c] = average_precision(curve.recall, curve.precision, "all")
    coco_ap = np.full((len(COCO_THRESHOLDS) if coco else 0, n), np.nan)
    for k, t in enumerate(COCO_THRESHOLDS if coco else ()):
        for c in range(n):
            curve = _pr(detections, ground_truths, c, float(t), "coco")
            if curve.n_ground_truth:
                coco_ap[k, c] = average_precision(curve.recall, curve.precision, "coco")
    return DetectionReport(names, ap50, coco_ap, curves)


def plot_pr_curves(report: DetectionReport, path: Any) -> None:
    """Precision-recall curves at IoU 0.5, one line per class, AP in the legend, saved as a
    PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.2))
    for name, curve, ap in zip(report.class_names, report.curves, report.ap50):
        if curve.n_ground_truth == 0:
            continue
        r = np.concatenate([[0.0], curve.recall])
        p = np.concatenate([[1.0], curve.precision])
        ax.plot(r, p, label=f"{name} (AP {ap:.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Precision-recall at IoU 0.5, mAP {report.map50:.3f}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
