"""Course 4, week 4: face verification and one-shot recognition with the triplet loss.

The notes' FaceNet recipe, on data that needs no download. An encoder f(x) ([3x3 CONV -> BN ->
ReLU -> 2x2 MAXPOOL] x 2 (16, 32 filters) -> FC 64 -> L2 normalization) is trained with the
triplet loss J = sum [||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + alpha]_+ (alpha 0.2,
semi-hard negatives mined in each batch, Adam 0.003) through ``dl.train.fit``. Some
identities are never seen in training; each is stored in the database from ONE example.

- ``--data faces`` (default): synthetic 16x16 faces of 200 identities (``make_faces``), 180
  for training (batches of 16 identities x 4 photos, 20 epochs), 20 new ones;
- ``--data digits``: scikit-learn's 8x8 digits, 0-6 for training (2 epochs), 7-9 new.

Verification: d(x1, x2) = ||f(x1) - f(x2)||^2 < threshold, the threshold chosen on pairs of
held-out photos of the training identities (best accuracy), measured on balanced pairs of the
new identities (with the ROC curve). Recognition: the nearest stored example of a gallery with
one photo of each new identity. Raw pixels are the baseline. The course reports no numbers for
this (its FaceNet is pre-trained). Saves ``face_one_shot_roc.png`` and
``face_one_shot_gallery.png`` (top row: stored photos; bottom row: other photos of the same
identities, in the order printed).

    python examples/face_one_shot.py                 # about 30 s
    python examples/face_one_shot.py --data digits    # a few seconds
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import dlkit as dl
from dlkit.vision.images import image_grid, save_image
from dlkit.vision.oneshot import (
    digits_one_shot,
    evaluate_one_shot,
    faces_one_shot,
    train_embedding,
)
from dlkit.vision.verification import Gallery, plot_roc


class Pixels:
    """The baseline: raw pixels as the "embedding"."""

    def embed(self, X):
        return np.asarray(X).reshape(len(X), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["faces", "digits"], default="faces")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--strategy", default="semi-hard")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer epochs")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dl.manual_seed(args.seed)
    data = faces_one_shot() if args.data == "faces" else digits_one_shot()
    epochs = args.epochs or {"faces": 20, "digits": 2}[args.data]
    epochs = max(1, epochs // 4) if args.quick else epochs
    new = np.unique(data.y_new)
    print(f"{args.data}: train on {len(np.unique(data.y_train))} identities "
          f"({len(data.y_train)} images, +{len(data.y_dev)} dev); {len(new)} new identities "
          f"({len(data.y_new)} images)")
    encoder, history = train_embedding(data.X_train, data.y_train, embedding_dim=64,
                                       epochs=epochs, lr=0.003, strategy=args.strategy)
    print(f"triplet loss per epoch: {', '.join(f'{v:.4f}' for v in history.history['loss'])}")
    report = evaluate_one_shot(encoder, data)
    raw = evaluate_one_shot(Pixels(), data)
    far, tar = report.pop("roc")
    print(f"{'':38s} {'raw pixels':>10s} {'embedding':>10s}")
    for key in ("dev_verification_accuracy", "verification_accuracy", "auc",
                "identification_accuracy", "identification_accuracy_with_threshold"):
        print(f"{key:38s} {raw[key]:10.3f} {report[key]:10.3f}")
    print(f"threshold (dev pairs, best accuracy): {report['threshold']:.3f}")
    plot_roc(far, tar, out / "face_one_shot_roc.png",
             title=f"verification of {len(new)} identities never seen in training")
    shown = new[:9]
    stored = [int(np.flatnonzero(data.y_new == k)[0]) for k in new]
    gallery = Gallery.from_examples(encoder.embed(data.X_new[stored]),
                                    [data.names[k] for k in new], report["threshold"])
    queries = [int(np.flatnonzero(data.y_new == k)[1]) for k in shown]
    names, _ = gallery.identify(encoder.embed(data.X_new[queries]))
    print("queries: " + ", ".join(f"{data.names[data.y_new[q]]} -> {n or 'unknown'}"
                                  for q, n in zip(queries, names)))
    tiles = [data.X_new[stored[list(new).index(k)]] for k in shown] + \
        [data.X_new[q] for q in queries]
    save_image(out / "face_one_shot_gallery.png",
               image_grid(tiles, cols=len(shown), scale=96 // data.X_new.shape[1]))
    print(f"wrote {out}/face_one_shot_roc.png and face_one_shot_gallery.png")


if __name__ == "__main__":
    main()
