"""Course 4, week 3: sliding windows and their convolutional implementation (OverFeat).

A classifier of 14x14x3 windows (the notes' network: CONV 5x5 16 -> MAXPOOL 2 -> FC 400 ->
FC 400 -> softmax 4, here with 4 classes: background, circle, square, triangle) is trained on
crops of the synthetic shapes; then on 64x64 images every window at stride 2 (the pooling's)
is classified twice: by cropping and classifying each of the 26 x 26 windows, and by one
forward pass of ``to_fully_convolutional(model)`` (FC 400 -> 5x5 conv, the rest 1x1 convs).
The script prints both times and the largest difference of the outputs, and saves a picture of
the windows classified as objects (after non-max suppression per class, IoU 0.3).

    python examples/sliding_windows.py [--quick] [--out examples/output]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import dlkit as dl
from dlkit import nn
from dlkit.vision.shapes import make_shapes
from dlkit.vision.sliding import (
    convolutional_sliding_windows,
    sliding_window_predictions,
    to_fully_convolutional,
    window_stride,
)

WINDOW = 14


def window_crops(data, rng, per_image=6):
    """14x14 crops centred on objects (their class + 1) and on background (0)."""
    xs, ys = [], []
    size = data.images.shape[1]
    for image, boxes, labels, mask in zip(data.images, data.boxes, data.labels, data.masks):
        for box, label in zip(boxes, labels):
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            x0 = int(np.clip(cx - WINDOW / 2 + rng.integers(-1, 2), 0, size - WINDOW))
            y0 = int(np.clip(cy - WINDOW / 2 + rng.integers(-1, 2), 0, size - WINDOW))
            xs.append(image[y0:y0 + WINDOW, x0:x0 + WINDOW])
            ys.append(label + 1)
        for _ in range(per_image - len(boxes)):
            x0, y0 = rng.integers(0, size - WINDOW, 2)
            if mask[y0:y0 + WINDOW, x0:x0 + WINDOW].mean() < 0.05:
                xs.append(image[y0:y0 + WINDOW, x0:x0 + WINDOW])
                ys.append(0)
    return np.stack(xs), np.array(ys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    dl.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    # small shapes, so that a 14x14 window holds a whole object
    data = make_shapes(150 if args.quick else 600, 64, size_range=(0.06, 0.1), seed=args.seed)
    x, y = window_crops(data, rng)
    model = nn.Sequential(nn.Conv2d(3, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(),
                          nn.Linear(400, 4))
    opt = dl.optim.Adam(model.parameters(), lr=0.001)
    h = dl.train.fit(model, "cross_entropy", opt, x, y, epochs=3 if args.quick else 10,
                     batch_size=64)
    print(f"window classifier: {len(x)} crops, train accuracy {h.history['accuracy'][-1]:.3f}")
    model.eval()
    fc = to_fully_convolutional(model, WINDOW, 3)
    test = make_shapes(8, 64, size_range=(0.06, 0.1), seed=args.seed + 1)
    t0 = time.perf_counter()
    naive = sliding_window_predictions(model, test.images, WINDOW, window_stride(model))
    t1 = time.perf_counter()
    conv = convolutional_sliding_windows(fc, test.images)
    t2 = time.perf_counter()
    print(f"{naive.shape[1]}x{naive.shape[2]} windows per image, stride {window_stride(model)}:"
          f" crop-and-classify {1e3 * (t1 - t0):.1f} ms, convolutional {1e3 * (t2 - t1):.1f} ms"
          f" ({(t1 - t0) / (t2 - t1):.1f}x faster); largest difference "
          f"{np.abs(naive - conv).max():.2e}")
    same = (naive.argmax(-1) == conv.argmax(-1)).mean()
    print(f"same class for {100 * same:.1f}% of the windows")
    from dlkit.vision.boxes import batched_nms
    from dlkit.vision.draw import draw_detection_grid

    probs = np.exp(conv - conv.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    dets = []
    for p in probs:
        cls = p.argmax(-1)
        rows, cols = np.nonzero((cls > 0) & (p.max(-1) > 0.9))
        boxes = np.stack([cols * 2, rows * 2, cols * 2 + WINDOW, rows * 2 + WINDOW], 1)
        scores, labels = p[rows, cols].max(-1), cls[rows, cols] - 1
        keep = batched_nms(boxes.astype(float), scores, labels, 0.3)  # one box per object
        dets.append((scores[keep], boxes[keep].astype(float), labels[keep]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = draw_detection_grid(list(test.images), dets, test.class_names,
                               out / "sliding_windows.png")
    print(f"wrote {path} (windows classified as an object with probability > 0.9, after NMS)")


if __name__ == "__main__":
    main()
