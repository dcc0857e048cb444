"""Computer vision applications of course 4 weeks 3-4: boxes, IoU and non-max suppression,
localization and landmarks, sliding windows, YOLO, mAP, segmentation with U-Net."""

from dlkit.vision.boxes import (
    batched_nms,
    box_area,
    box_iou,
    centers_to_corners,
    check_boxes,
    clip_boxes,
    corners_to_centers,
    nms,
    scale_boxes,
)
from dlkit.vision.segmentation import (
    confusion_matrix,
    iou_per_class,
    mean_iou,
    pixel_cross_entropy,
    predict_masks,
)
from dlkit.vision.shapes import CLASS_NAMES, ShapesData, make_shapes

__all__ = [
    "CLASS_NAMES", "ShapesData", "make_shapes", "confusion_matrix", "iou_per_class",
    "mean_iou", "pixel_cross_entropy", "predict_masks",
    "batched_nms", "box_area", "box_iou", "centers_to_corners", "check_boxes", "clip_boxes",
    "corners_to_centers", "nms", "scale_boxes",
]
