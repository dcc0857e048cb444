"""Computer vision applications of course 4: boxes, IoU and non-max suppression,
localization and landmarks, sliding windows, YOLO, mAP, segmentation with U-Net (week 3); face
verification and recognition (triplet loss, galleries), neural style transfer, and what
ConvNets learn (week 4)."""

from dlkit.vision.annotations import (
    DetectionData,
    load_detection_folder,
    read_coco_json,
    read_voc_xml,
)
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
from dlkit.vision.detector import YoloDetector
from dlkit.vision.evaluation import (
    DetectionReport,
    average_precision,
    evaluate_detections,
    plot_pr_curves,
)
from dlkit.vision.images import (
    ImageError,
    image_grid,
    load_image,
    load_image_folder,
    sample_image,
    save_image,
)
from dlkit.vision.localization import (
    landmark_loss,
    localization_loss,
    localization_targets,
)
from dlkit.vision.segmentation import (
    confusion_matrix,
    iou_per_class,
    mean_iou,
    pixel_cross_entropy,
    predict_masks,
)
from dlkit.vision.shapes import CLASS_NAMES, ShapesData, make_shapes
from dlkit.vision.sliding import (
    convolutional_sliding_windows,
    crop_windows,
    sliding_window_predictions,
    to_fully_convolutional,
    window_stride,
)
from dlkit.vision.style import (
    StyleResult,
    StyleTransfer,
    content_cost,
    gram_matrix,
    layer_style_cost,
    random_vgg_features,
    style_cost,
    total_cost,
    vgg19_features,
    vgg_layer_names,
)
from dlkit.vision.triplet import (
    IdentityBatches,
    TripletMiningLoss,
    TripletStep,
    mine_triplets,
    pairwise_sq_distances,
    triplet_loss,
)
from dlkit.vision.verification import (
    Gallery,
    auc,
    choose_threshold,
    identify,
    make_pairs,
    model_fingerprint,
    pair_distances,
    plot_roc,
    roc_curve,
    verification_accuracy,
    verify,
)
from dlkit.vision.yolo import (
    YoloLoss,
    encode_targets,
    kmeans_anchors,
    yolo_boxes_to_corners,
    yolo_detect,
    yolo_eval,
    yolo_filter_boxes,
    yolo_head,
    yolo_loss,
)

__all__ = [
    "CLASS_NAMES", "ShapesData", "make_shapes", "confusion_matrix", "iou_per_class",
    "mean_iou", "pixel_cross_entropy", "predict_masks", "DetectionReport", "average_precision",
    "evaluate_detections", "plot_pr_curves", "YoloLoss", "encode_targets", "kmeans_anchors",
    "yolo_boxes_to_corners", "yolo_detect", "yolo_eval", "yolo_filter_boxes", "yolo_head",
    "yolo_loss", "landmark_loss", "localization_loss", "localization_targets",
    "convolutional_sliding_windows", "crop_windows", "sliding_window_predictions",
    "to_fully_convolutional", "window_stride", "DetectionData", "load_detection_folder",
    "read_coco_json", "read_voc_xml", "YoloDetector",
    "batched_nms", "box_area", "box_iou", "centers_to_corners", "check_boxes", "clip_boxes",
    "corners_to_centers", "nms", "scale_boxes",

    "IdentityBatches", "TripletMiningLoss", "TripletStep", "mine_triplets",
    "pairwise_sq_distances", "triplet_loss",
    "Gallery", "auc", "choose_threshold", "identify", "make_pairs", "model_fingerprint",
    "pair_distances", "plot_roc", "roc_curve", "verification_accuracy", "verify",
    "ImageError", "image_grid", "load_image", "load_image_folder", "sample_image", "save_image",
    "StyleResult", "StyleTransfer", "content_cost", "gram_matrix", "layer_style_cost",
    "random_vgg_features", "style_cost", "total_cost", "vgg19_features", "vgg_layer_names",
]
