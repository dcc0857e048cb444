"""Course 4, week 3 (newer edition): semantic segmentation with U-Net on the synthetic shapes.

The course's U-Net (contracting [3x3 conv, ReLU] x 2 + 2x2 max pool blocks, expanding blocks
of a 3x3 stride-2 transposed convolution, concatenation with the skip, [3x3 conv, ReLU] x 2,
and a 1x1 conv to the classes), smaller: 8 filters, 3 poolings, on 32x32 images of circles,
squares and triangles (4 classes with the background; 1200 training images, 25 epochs),
trained with pixel-wise cross-entropy (Adam 0.003, cosine decay), as ``dlkit segment train``
does by default. Prints the IoU of each class and the mean IoU on 100 test images, and saves
the predicted and true masks of test images (``masks.png``).

    python examples/unet_shapes.py [--quick] [--out examples/output]
"""

from __future__ import annotations

import argparse
import sys

from dlkit.cli import main as dlkit_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    size = ["--n-train", "120", "--epochs", "3"] if args.quick else []
    sys.exit(dlkit_main(["segment", "train", *size, "--seed", str(args.seed), "--out",
                         f"{args.out}/unet_shapes", "--no-progress"]))


if __name__ == "__main__":
    main()
