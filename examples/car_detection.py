"""Course 4, week 3: the car-detection exercise's pipeline, ``yolo_eval`` on an output volume.

The course feeds a 608x608 photo to a pre-trained YOLOv2 and decodes its (19, 19, 5, 85)
encoding with ``yolo_head`` -> ``yolo_boxes_to_corners`` -> ``yolo_filter_boxes`` (score =
p_c x class probability >= 0.6) -> ``scale_boxes`` -> non-max suppression (IoU 0.5, at most 10
boxes). dlkit bundles no pre-trained YOLO weights, so this script builds the output volume
itself: noise everywhere (low p_c), plus a few confident cells that encode boxes drawn around
objects of scikit-learn's sample photo ``china.jpg``, each repeated in neighbouring cells and
anchors with slightly shifted boxes and lower scores, as a detector's raw output looks. The
decoding is the course's; the picture shows what survives the filter and NMS.

    python examples/car_detection.py [--out examples/output]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dlkit.vision.draw import draw_detections
from dlkit.vision.yolo import yolo_eval, yolo_head

ANCHORS = np.array([[0.06, 0.04], [0.12, 0.08], [0.2, 0.3], [0.3, 0.2], [0.45, 0.45]])
CLASSES = ("pagoda", "tree", "island")


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def output_volume(rng: np.random.Generator, objects, s: int = 19) -> np.ndarray:
    """A (1, S, S, B, 5 + C) raw volume encoding ``objects`` [(class, x1, y1, x2, y2)] in
    image fractions, with shifted duplicates and background noise."""
    c = len(CLASSES)
    out = rng.normal(0, 1, (1, s, s, len(ANCHORS), 5 + c))
    out[..., 0] -= 6  # background cells: p_c near 0
    for label, x1, y1, x2, y2 in objects:
        for k, (shift, p) in enumerate(((0.0, 0.97), (0.06, 0.85), (-0.08, 0.7))):
            bx, by = (x1 + x2) / 2 + shift * (x2 - x1), (y1 + y2) / 2 - shift * (y2 - y1)
            bh, bw = (y2 - y1) * (1 + shift), (x2 - x1) * (1 - shift)
            col, row = int(bx * s), int(by * s)
            a = int(np.argmax([min(bh, h) * min(bw, w) / (bh * bw + h * w - min(bh, h) *
                                                            min(bw, w)) for h, w in ANCHORS]))
            a = (a + k) % len(ANCHORS) if k else a
            cell = out[0, row, col, a]
            cell[0] = logit(p)
            cell[1], cell[2] = logit(np.clip(bx * s - col, 0.01, 0.99)), logit(
                np.clip(by * s - row, 0.01, 0.99))
            cell[3], cell[4] = np.log(bh / ANCHORS[a, 0]), np.log(bw / ANCHORS[a, 1])
            cell[5:] = -4.0
            cell[5 + label] = 4.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/output")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from sklearn.datasets import load_sample_image

    image = load_sample_image("china.jpg").astype(np.float32) / 255  # 427 x 640
    objects = [(0, 0.13, 0.06, 0.56, 0.92), (1, 0.0, 0.33, 0.13, 0.98),
               (1, 0.85, 0.31, 1.0, 0.99), (2, 0.655, 0.525, 0.785, 0.57)]
    volume = output_volume(np.random.default_rng(args.seed), objects)
    print(f"output volume {volume.shape} (m, S, S, anchors, 5 + classes)")
    conf, xy, hw, probs = yolo_head(volume, ANCHORS)
    scores, boxes, classes = yolo_eval((conf[0], xy[0], hw[0], probs[0]), image.shape[:2])
    print(f"after the score filter (0.6) and NMS (IoU 0.5): {len(scores)} boxes")
    for s, b, c in zip(scores, boxes, classes):
        print(f"  {CLASSES[c]:7s} score {s:.2f}  box ({b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, "
              f"{b[3]:.0f})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = draw_detections(image, boxes, classes, scores, CLASSES, out / "car_detection.png",
                           scale=0.4)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
