"""Non-max suppression on 10,000 boxes: dlkit.vision.nms (NumPy, one vectorized IoU row per
kept box) vs OpenCV's cv2.dnn.NMSBoxes (C++), alternated in one process; medians and the
ratio dlkit / OpenCV printed, and the kept indices compared.

    python benchmarks/nms.py [--boxes 10000] [--threshold 0.5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from common import alternate, machine_line

from dlkit.vision.boxes import nms


def clustered_boxes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boxes around 200 objects on a 1000x1000 image (as a detector's raw output)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(50, 950, (200, 2))
    sizes = rng.uniform(20, 120, (200, 2))
    k = rng.integers(0, 200, n)
    c = centres[k] + rng.normal(0, 8, (n, 2))
    s = sizes[k] * rng.uniform(0.8, 1.2, (n, 2))
    boxes = np.hstack([c - s / 2, c + s / 2])
    return boxes, rng.random(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=10_000)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    try:
        import cv2
    except ImportError:
        cv2 = None
    boxes, scores = clustered_boxes(args.boxes)
    print(machine_line())
    workloads = {"dlkit": lambda: nms(boxes, scores, args.threshold)}
    if cv2 is not None:
        xywh = np.hstack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).tolist()
        score_list = scores.tolist()
        workloads["opencv"] = lambda: cv2.dnn.NMSBoxes(xywh, score_list, 0.0, args.threshold)
        same = (nms(boxes, scores, args.threshold).tolist()
                == np.asarray(workloads["opencv"]()).reshape(-1).tolist())
    t = alternate(workloads, rounds=args.rounds, block=5)
    kept = len(nms(boxes, scores, args.threshold))
    print(f"{args.boxes} boxes, IoU threshold {args.threshold}: {kept} kept")
    for name, seconds in t.items():
        print(f"  {name:7s} {seconds * 1e3:8.2f} ms")
    result = {"boxes": args.boxes, "kept": kept, "dlkit_ms": t["dlkit"] * 1e3}
    if cv2 is not None:
        ratio = t["dlkit"] / t["opencv"]
        print(f"  ratio dlkit / OpenCV: {ratio:.2f} (goal <= 2); same indices: {same}")
        result.update(opencv_ms=t["opencv"] * 1e3, ratio=ratio, same_indices=same)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
