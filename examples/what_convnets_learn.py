"""Course 4, week 4: what deep ConvNets learn (Zeiler & Fergus), as the notes.

A CNN classifier (``dl.models.simple_cnn``: [3x3 CONV -> BN -> ReLU -> 2x2 MAXPOOL] x 2 with
16 and 32 filters, then FC 10; Adam 0.003, 10 epochs) is trained on scikit-learn's 8x8
digits. Then, for the units (channels) of a shallow and a deeper layer, the image patches of
the whole data set that activate each unit most: a unit of layer 1 (after the first ReLU)
sees a 3x3 patch (strokes at one angle, a stroke end); a unit of layer 2 sees a 10x10 patch
(parts of digits: a loop, a corner, a bar with a stroke below). The first layer's filters
are drawn too.

Saves ``convnet_layer1.png`` and ``convnet_layer2.png`` (one row per unit, its 9 strongest
patches, strongest first) and ``convnet_filters.png``.

    python examples/what_convnets_learn.py       # a few seconds
"""

from __future__ import annotations

import argparse
from pathlib import Path

import dlkit as dl
from dlkit.vision.visualize import layer_names, save_filters, save_top_patches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 epochs")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    out = Path(args.out)
    dl.manual_seed(args.seed)
    X, y = dl.data.load_digits(as_images=True)
    model = dl.models.simple_cnn((8, 8, 1), 10)
    history = dl.train.fit(model, "cross_entropy", dl.optim.Adam(model.parameters(), lr=0.003),
                           X, y, epochs=2 if args.quick else args.epochs)
    print(f"training accuracy {history.history['accuracy'][-1]:.3f}; layers: "
          f"{', '.join(layer_names(model))}")
    save_top_patches(model, X, 2, out / "convnet_layer1.png", units=range(8))
    save_top_patches(model, X, 6, out / "convnet_layer2.png", units=range(8))
    save_filters(model, out / "convnet_filters.png")
    print(f"wrote {out}/convnet_layer1.png, convnet_layer2.png, convnet_filters.png")


if __name__ == "__main__":
    main()
