"""Course 4, week 4: face verification and one-shot recognition with the triplet loss.

The notes' FaceNet recipe, on data that needs no download: an encoder f(x) (a small CNN,
[3x3 CONV -> BN -> ReLU -> 2x2 MAXPOOL] x 2 (16, 32 filters) -> FC 32 -> L2 normalization) is
trained with the triplet loss J = sum [||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + alpha]_+
(alpha 0.2, semi-hard negatives mined in each batch of 64, Adam 0.001) on scikit-learn's
8x8 digits 0-6 -- the "people" of the training set. Digits 7, 8 and 9 play the new people:
never seen in training, each is stored in the database from ONE example.

- verification: d(x1, x2) = ||f(x1) - f(x2)||^2 < threshold; the threshold is chosen on pairs
  of held-out examples of digits 0-6 (best accuracy); the ROC curve on pairs of 7-9;
- recognition: the nearest stored example of a 3-identity gallery (one image each); with the
  threshold, "not in the database" when even the nearest is too far.

The course reports no numbers for this exercise on digits (its FaceNet is pre-trained on
faces). Prints the figures; saves ``face_one_shot_roc.png`` and ``face_one_shot_gallery.png``
(the stored examples and a few queries with the identity found).

    python examples/face_one_shot.py            # a few seconds
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import dlkit as dl
from dlkit.vision.images import image_grid, save_image
from dlkit.vision.oneshot import digits_one_shot, evaluate_one_shot, train_embedding
from dlkit.vision.verification import Gallery, plot_roc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--strategy", default="semi-hard")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="one epoch")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dl.manual_seed(args.seed)
    data = digits_one_shot()
    print(f"train on digits 0-6: {len(data.y_train)} images (+{len(data.y_dev)} dev); "
          f"new identities 7, 8, 9: {len(data.y_new)} images")
    raw = evaluate_one_shot(_Flat(), data)
    encoder, history = train_embedding(data.X_train, data.y_train,
                                       epochs=1 if args.quick else args.epochs,
                                       strategy=args.strategy)
    print(f"triplet loss per epoch: {', '.join(f'{v:.4f}' for v in history.history['loss'])}")
    report = evaluate_one_shot(encoder, data)
    far, tar = report.pop("roc")
    raw.pop("roc")
    print(f"{'':34s} {'raw pixels':>10s} {'embedding':>10s}")
    for key in ("dev_verification_accuracy", "verification_accuracy", "auc",
                "identification_accuracy", "identification_accuracy_with_threshold"):
        print(f"{key:34s} {raw[key]:10.3f} {report[key]:10.3f}")
    print(f"threshold (dev pairs, best accuracy): {report['threshold']:.3f}")
    plot_roc(far, tar, out / "face_one_shot_roc.png",
             title="verification of digits never seen in training")
    labels = np.unique(data.y_new)
    first = [int(np.flatnonzero(data.y_new == k)[0]) for k in labels]
    gallery = Gallery.from_examples(encoder.embed(data.X_new[first]),
                                    [data.names[k] for k in labels], report["threshold"])
    queries = np.random.default_rng(args.seed).choice(len(data.y_new), 9, replace=False)
    names, _ = gallery.identify(encoder.embed(data.X_new[queries]))
    print("queries: " + ", ".join(f"{data.names[data.y_new[q]]}->{n or 'unknown'}"
                                  for q, n in zip(queries, names)))
    blank = np.full_like(data.X_new[0], 0.5)
    tiles = [data.X_new[k] for k in first] + [blank] * 6 + [data.X_new[q] for q in queries]
    save_image(out / "face_one_shot_gallery.png", image_grid(tiles, cols=9, scale=6))
    print(f"wrote {out}/face_one_shot_roc.png and face_one_shot_gallery.png (top row: the "
          f"stored examples; bottom row: the queries in the order printed)")


class _Flat:
    """The baseline: raw pixels as the "embedding"."""

    def embed(self, X):
        return np.asarray(X).reshape(len(X), -1)


if __name__ == "__main__":
    main()
