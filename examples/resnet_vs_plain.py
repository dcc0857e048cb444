"""Course 4, week 2: residual networks against plain networks of the same depth.

The course's ResNet exercise opens with the problem it solves: in theory a deeper network
fits the training set at least as well as a shallower one, in reality a deep "plain" network
(layers stacked without shortcuts) becomes harder to train as it gets deeper, its gradients
vanishing on the way back to the first layers, so its training error goes up again past some
depth; with the skip connection a[l+2] = g(z[l+2] + a[l]) a block can learn the identity
easily, and the training error keeps going down with depth (He et al., 2016; the notes'
figure of training error against the number of layers, "plain" and "ResNet").

Here both kinds of network are built from the same blocks: ``dl.models.BasicBlock`` (3x3
CONV -> BN -> ReLU -> 3x3 CONV -> BN, + x, -> ReLU) and its plain twin, the same layers and
parameters without the "+ x". Each network is a 3x3 CONV (16 filters) -> BN -> ReLU stem,
``n`` blocks of 16 channels on the 8x8 images, global average pooling and a dense layer to
10 logits: 2n + 2 weighted layers. They are trained on scikit-learn's 8x8 digits (an
80/20 stratified split) with the same optimizer (Adam, learning rate 0.001, mini-batches
of 64), the same 6 epochs and the same weight draws and data order, for n = 2, 5 and 10
blocks (6, 12 and 22 layers). Printed: the norm of the first layer's gradient on one batch
at initialization, the training loss per epoch, the final training and test accuracy;
saved: ``resnet_vs_plain.png`` (training loss and accuracy per epoch; final training loss
against depth, the notes' figure).

With batch norm in every block the gradient reaching the first layer does not vanish at
initialization (the 22-layer plain network's is the largest); as He et al. observed, and as
the notes add ("the ease of learning an identity function accounts for ResNets' performance
even more than skip connections helping with vanishing gradients"), the deep plain network
is harder to optimize although its gradients are healthy.

    python examples/resnet_vs_plain.py            # about 30-40 s
    python examples/resnet_vs_plain.py --quick    # 10 blocks, 640 images, batches of 32, 2 epochs
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from figures import DEFAULT_OUT, save, subplots

import dlkit as dl

LOSS = "cross_entropy"
WIDTH = 16


class PlainBlock(dl.models.BasicBlock):
    """BasicBlock without its shortcut: a[l+2] = g(z[l+2]) (same layers, same parameters)."""

    def forward(self, x: dl.Tensor) -> dl.Tensor:
        return dl.relu(self.main(x))


def network(block: type, n_blocks: int, n_classes: int = 10) -> dl.nn.Sequential:
    """Stem CONV -> BN -> ReLU, ``n_blocks`` blocks of WIDTH channels, GAP, FC."""
    return dl.nn.Sequential(
        dl.nn.Conv2d(1, WIDTH, 3, padding=1, bias=False), dl.nn.BatchNorm2d(WIDTH), dl.nn.ReLU(),
        *[block(WIDTH, WIDTH) for _ in range(n_blocks)],
        dl.nn.GlobalAvgPool2d(), dl.nn.Linear(WIDTH, n_classes, init="xavier"))


def first_layer_gradient(model: dl.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """||dJ/dW|| of the stem convolution on one mini-batch: what reaches the first layer."""
    model.zero_grad()
    dl.cross_entropy(model(dl.tensor(X)), dl.tensor(y)).backward()
    grad = model[0].weight.grad
    model.zero_grad()
    return float(np.linalg.norm(grad))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="seed of the split and the weights")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure")
    parser.add_argument("--quick", action="store_true",
                        help="10 blocks only, 640 images in batches of 32, 2 epochs")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 6, quick 2)")
    args = parser.parse_args()
    depths = (10,) if args.quick else (2, 5, 10)
    epochs = args.epochs or (2 if args.quick else 6)
    batch_size = 32 if args.quick else 64

    dl.manual_seed(args.seed)
    X, y = dl.data.load_digits(as_images=True)
    X_train, X_test, y_train, y_test = dl.data.train_test_split(X, y, test_size=0.2,
                                                                stratify=y)
    if args.quick:  # 40 steps of 32 images: enough for the gap to open, in a few seconds
        X_train, y_train = X_train[:640], y_train[:640]
    print(f"digits: X_train {X_train.shape}, X_test {X_test.shape}; Adam 0.001, batches of "
          f"{batch_size}, {epochs} epochs")
    start_state = dl.get_rng_state()
    runs = {}
    for n in depths:
        for kind, block in (("plain", PlainBlock), ("ResNet", dl.models.BasicBlock)):
            dl.set_rng_state(start_state)  # the same weights draws and batch order for both
            model = network(block, n)
            grad = first_layer_gradient(model, X_train[:64], y_train[:64])
            start = time.perf_counter()
            history = dl.train.fit(model, LOSS, dl.optim.Adam(model.parameters(), lr=0.001),
                                   X_train, y_train, epochs=epochs, batch_size=batch_size)
            elapsed = time.perf_counter() - start
            train = dl.train.evaluate(model, LOSS, X_train, y_train)["accuracy"]
            test = dl.train.evaluate(model, LOSS, X_test, y_test)["accuracy"]
            name = f"{kind}-{2 * n + 2}"
            runs[name] = {"n": n, "kind": kind, "history": history, "test": test}
            losses = " ".join(f"{v:.3f}" for v in history["loss"])
            print(f"{name:10s} ({n:2d} blocks, {model.num_parameters()} parameters): "
                  f"||dW first layer|| at init {grad:.3f}; training loss per epoch {losses}; "
                  f"train {100 * train:.2f} %, test {100 * test:.2f} % "
                  f"({elapsed:.1f} s)")

    print("\nfinal training loss by depth (the notes: plain goes back up, ResNet keeps going "
          "down):")
    for kind in ("plain", "ResNet"):
        row = [f"{2 * r['n'] + 2} layers {r['history']['loss'][-1]:.3f}"
               for r in runs.values() if r["kind"] == kind]
        print(f"  {kind:7s} " + ", ".join(row))

    fig, axes = subplots(3, cols=3, size=4.2)
    colors = dict(zip(depths, ("tab:blue", "tab:orange", "tab:red")))
    for name, run in runs.items():
        style = "--" if run["kind"] == "plain" else "-"
        for ax, key in zip(axes, ("loss", "accuracy")):
            values = run["history"][key]
            ax.plot(np.arange(1, len(values) + 1), values, style, color=colors[run["n"]],
                    label=name)
    for ax, key in zip(axes, ("training loss", "training accuracy (during the epoch)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_yscale("log")
    for kind, style in (("plain", "o--"), ("ResNet", "s-")):
        chosen = [r for r in runs.values() if r["kind"] == kind]
        axes[2].plot([2 * r["n"] + 2 for r in chosen], [r["history"]["loss"][-1] for r in chosen],
                     style, label=kind)
    axes[2].set_xlabel("number of layers")
    axes[2].set_ylabel(f"training loss after {epochs} epochs")
    axes[2].set_yscale("log")
    axes[2].grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    save(fig, args.out, "resnet_vs_plain.png")


if __name__ == "__main__":
    main()
