"""Course 4, week 2 (and course 3, week 2): transfer learning.

The notes' recipe: take a network trained on a task with much data, remove its softmax layer,
put a new one with your classes in its place, freeze every other layer and train only the new
softmax; since the frozen layers are a fixed function, compute their activations for the
training set once, save them to disk, and train the shallow softmax model on them. With more
data, freeze fewer layers and train the last ones too, starting from the pre-trained weights
(fine-tuning). Transfer helps most when task A has much more data than task B and both share
the same kind of input and low-level features.

Here task A is scikit-learn's digits 0-4 (about 900 8x8 images; an 80/20 split; Adam 0.003,
15 epochs) and task B
is digits 5-9 with only a few labelled examples per class (the course's "little data" case),
tested on half of the 5-9 images that are never trained on. The network is
``dl.models.simple_cnn``: [3x3 CONV -> BN -> ReLU -> 2x2 MAXPOOL] x 2 (16 and 32 filters)
-> FLATTEN (128 features) -> FC. For each training-set size (5, 10, 25 and 50 examples per
class; the sets are nested):

1. from scratch: the same network, randomly initialized, trained on the small set
   (Adam 0.003, 150 epochs);
2. transfer: the task-A network with ``dl.nn.replace_head`` (a new FC with 5 outputs),
   ``split_head`` and ``freeze_backbone``; ``FeatureCache`` computes the backbone's 128
   features of the small set once (saved as ``.npz`` in ``--out``) and only the head is
   trained on them (Adam 0.003, 150 epochs);
3. fine-tuning: then ``unfreeze_last(model, 3)`` (the second CONV, its BN and the head) and
   these three layers are trained, through the whole network, on the small set for 50 more
   epochs (Adam 0.0003); the frozen first BN runs in inference mode;
4. control: the same head trained on the features of a frozen backbone that was never
   trained (random weights): what the task-A training adds to the features.

The course reports no numbers for this (it is a lecture, not an exercise); its claim is that
with a small training set, training only the new softmax on frozen pre-trained layers gives
good performance, and that fine-tuning more layers pays as the training set grows.

Prints the accuracies on the task-B test set; saves ``transfer_learning.png`` (test accuracy
against the number of examples per class).

    python examples/transfer_learning.py            # about 7 s
    python examples/transfer_learning.py --quick    # 10 examples per class, fewer epochs
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from figures import DEFAULT_OUT, save, subplots

import dlkit as dl
from dlkit.nn import (
    FeatureCache,
    freeze_backbone,
    replace_head,
    split_head,
    trainable_parameters,
    unfreeze_last,
)

LOSS = "cross_entropy"
SHAPE = (8, 8, 1)


def accuracy(model: dl.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return dl.train.evaluate(model, LOSS, X, y)["accuracy"]


def first_per_class(y: np.ndarray, k: int) -> np.ndarray:
    """Indices of the first ``k`` examples of each class (the order is already shuffled)."""
    return np.sort(np.concatenate([np.flatnonzero(y == c)[:k] for c in np.unique(y)]))


def train_task_a(X: np.ndarray, y: np.ndarray, epochs: int) -> dl.nn.Sequential:
    X_train, X_test, y_train, y_test = dl.data.train_test_split(X, y, test_size=0.2,
                                                                stratify=y)
    model = dl.models.simple_cnn(SHAPE, 5)
    start = time.perf_counter()
    dl.train.fit(model, LOSS, dl.optim.Adam(model.parameters(), lr=0.003), X_train, y_train,
                 epochs=epochs, batch_size=64)
    elapsed = time.perf_counter() - start
    train, test = accuracy(model, X_train, y_train), accuracy(model, X_test, y_test)
    print(f"task A (digits 0-4): {len(X_train)} training images, {epochs} epochs "
          f"({elapsed:.1f} s): train {100 * train:.2f} %, test {100 * test:.2f} %")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="seed of the splits and weights")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure and caches")
    parser.add_argument("--quick", action="store_true",
                        help="10 examples per class, 60/60/20 epochs")
    args = parser.parse_args()
    sizes = (10,) if args.quick else (5, 10, 25, 50)
    epochs_a, epochs, epochs_ft = (5, 60, 20) if args.quick else (15, 150, 50)

    dl.manual_seed(args.seed)
    X, y = dl.data.load_digits(as_images=True)
    source = y < 5
    pretrained = train_task_a(X[source], y[source], epochs_a).state_dict()

    X_b, y_b = X[~source], y[~source] - 5  # task B: digits 5-9 as classes 0-4
    X_pool, X_test, y_pool, y_test = dl.data.train_test_split(X_b, y_b, test_size=0.5,
                                                              stratify=y_b)
    print(f"task B (digits 5-9): test set {len(X_test)} images; training sets of "
          f"{', '.join(map(str, sizes))} examples per class\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights_rng = dl.get_rng_state()
    results = {"from scratch": [], "transfer (head only)": [], "fine-tuned (last 3 layers)": [],
               "random frozen backbone": []}
    for k in sizes:
        index = first_per_class(y_pool, k)
        X_small, y_small = X_pool[index], y_pool[index]

        dl.set_rng_state(weights_rng)
        scratch = dl.models.simple_cnn(SHAPE, 5)
        dl.train.fit(scratch, LOSS, dl.optim.Adam(scratch.parameters(), lr=0.003), X_small,
                     y_small, epochs=epochs, batch_size=64)
        results["from scratch"].append(accuracy(scratch, X_test, y_test))

        dl.set_rng_state(weights_rng)
        model = dl.models.simple_cnn(SHAPE, 5)
        model.load_state_dict(pretrained)  # task A's weights
        head = replace_head(model, 5)  # a fresh FC 128 -> 5 in place of task A's
        backbone, _ = split_head(model)
        freeze_backbone(backbone)
        start = time.perf_counter()
        cache = FeatureCache(backbone, X_small, path=out / f"transfer_features_{k}.npz")
        features = cache.features  # (5k, 128), computed once (or read back from the file)
        t_features = time.perf_counter() - start
        start = time.perf_counter()
        dl.train.fit(head, LOSS, dl.optim.Adam(head.parameters(), lr=0.003), features,
                     y_small, epochs=epochs, batch_size=64)
        t_head = time.perf_counter() - start
        results["transfer (head only)"].append(accuracy(model, X_test, y_test))

        unfrozen = unfreeze_last(model, 3)
        dl.train.fit(model, LOSS, dl.optim.Adam(trainable_parameters(model), lr=0.0003),
                     X_small, y_small, epochs=epochs + epochs_ft, initial_epoch=epochs,
                     batch_size=64)
        results["fine-tuned (last 3 layers)"].append(accuracy(model, X_test, y_test))

        # control: the same head on a frozen backbone that was never trained (random weights)
        dl.set_rng_state(weights_rng)
        control = dl.models.simple_cnn(SHAPE, 5)
        control_backbone, control_head = split_head(control)
        freeze_backbone(control_backbone)
        dl.train.fit(control_head, LOSS, dl.optim.Adam(control_head.parameters(), lr=0.003),
                     FeatureCache(control_backbone, X_small).features, y_small, epochs=epochs,
                     batch_size=64)
        results["random frozen backbone"].append(accuracy(control, X_test, y_test))

        print(f"{k} per class ({len(X_small)} images): features {features.shape} "
              f"{cache.source} in {1e3 * t_features:.1f} ms, head trained in "
              f"{1e3 * t_head:.0f} ms; fine-tuning unfroze {unfrozen}")
        for name, accs in results.items():
            print(f"  {name:28s} test accuracy {100 * accs[-1]:6.2f} %")

    print("\ntest accuracy on digits 5-9 (%), by examples per class:")
    print(f"  {'':28s} " + " ".join(f"{k:>7d}" for k in sizes))
    for name, accs in results.items():
        print(f"  {name:28s} " + " ".join(f"{100 * a:7.2f}" for a in accs))

    fig, axes = subplots(1, cols=1, size=5.0)
    for (name, accs), style in zip(results.items(), ("o--", "s-", "^-", "x:")):
        axes[0].plot(sizes, [100 * a for a in accs], style, label=name)
    axes[0].set_xscale("log")
    axes[0].set_xticks(sizes, [str(k) for k in sizes])
    axes[0].set_xlabel("training examples per class (digits 5-9)")
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    save(fig, args.out, "transfer_learning.png")


if __name__ == "__main__":
    main()
