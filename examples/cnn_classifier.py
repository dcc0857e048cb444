"""Course 4, week 1 programming exercise: Convolution model - Application; and LeNet-5
(course 4, week 2: classic networks).

The course trains, in TensorFlow, CONV2D -> RELU -> MAXPOOL -> CONV2D -> RELU -> MAXPOOL ->
FLATTEN -> FC on the SIGNS data set (64x64x3 photos of hands showing 0-5 fingers, 1080
training and 120 test images): W1 (4, 4, 3, 8) and W2 (2, 2, 8, 16), "same" convolutions
with stride 1 and no bias, max pools 8x8 / stride 8 and 4x4 / stride 4, a dense layer to 6
logits, Xavier (Glorot uniform) initialization, softmax cross-entropy, Adam with learning
rate 0.009, mini-batches of 64, 100 epochs. It reports a cost of 1.917929 after epoch 0,
train accuracy 0.940741 and test accuracy 0.783333.

SIGNS is not bundled, so this runs on scikit-learn's 8x8 handwritten digits (1797 images,
10 classes, values scaled to [0, 1]; a stratified 80/20 split drawn from dlkit's generator):

- the course's network scaled to 8x8x1 inputs: the same W shapes with one input channel
  (4, 4, 1, 8) and (2, 2, 8, 16), max pools 2x2 / stride 2 (8x8 -> 4x4 -> 2x2, so the dense
  layer gets 2 x 2 x 16 = 64 features, as the course's 2 x 2 x 16 from 64x64 inputs), a dense
  layer to 10 logits, the course's optimizer and schedule (Adam 0.009, batches of 64,
  100 epochs);
- ``dl.models.LeNet5`` as the paper (tanh, average pooling, 32x32x1 inputs: the digits
  upsampled 4x by repeating each pixel), Adam 0.001, batches of 64, 20 epochs.

Prints the cost every 5 epochs and the train/test accuracies; saves ``cnn_classifier.png``
(cost and accuracy per epoch, train and test, for both networks).

    python examples/cnn_classifier.py            # about 15 s
    python examples/cnn_classifier.py --quick    # 20 and 5 epochs
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from figures import DEFAULT_OUT, percent, save, subplots

import dlkit as dl

LOSS = "cross_entropy"


def course_cnn(n_classes: int = 10) -> dl.nn.Sequential:
    """The course's CONV2D -> RELU -> MAXPOOL -> CONV2D -> RELU -> MAXPOOL -> FLATTEN -> FC,
    for 8x8x1 images."""
    return dl.nn.Sequential(
        dl.nn.Conv2d(1, 8, 4, padding="same", bias=False, init="glorot_uniform"),
        dl.nn.ReLU(), dl.nn.MaxPool2d(2),
        dl.nn.Conv2d(8, 16, 2, padding="same", bias=False, init="glorot_uniform"),
        dl.nn.ReLU(), dl.nn.MaxPool2d(2),
        dl.nn.Flatten(),
        dl.nn.Linear(2 * 2 * 16, n_classes, init="glorot_uniform"),
    )


def upsample(X: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upsampling of (m, n_H, n_W, n_C) images: each pixel repeated."""
    return X.repeat(factor, axis=1).repeat(factor, axis=2)


def train(name: str, model: dl.nn.Module, lr: float, epochs: int, data: tuple,
          every: int = 5) -> dict:
    X_train, y_train, X_test, y_test = data
    print(f"\n{name}: input {X_train.shape[1:]}, {model.num_parameters()} parameters, "
          f"Adam {lr}, {epochs} epochs")
    start = time.perf_counter()
    history = dl.train.fit(model, LOSS, dl.optim.Adam(model.parameters(), lr=lr), X_train,
                           y_train, epochs=epochs, batch_size=64,
                           validation_data=(X_test, y_test))
    elapsed = time.perf_counter() - start
    for epoch in range(0, epochs, every):
        print(f"Cost after epoch {epoch}: {history['loss'][epoch]:.6f}")
    train_acc = dl.train.evaluate(model, LOSS, X_train, y_train)["accuracy"]
    test_acc = dl.train.evaluate(model, LOSS, X_test, y_test)["accuracy"]
    print(f"Train Accuracy: {train_acc:.6f}   Test Accuracy: {test_acc:.6f}   ({elapsed:.1f} s)")
    return {"history": history, "train": train_acc, "test": test_acc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="seed of the split and the weights")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="20 and 5 epochs")
    args = parser.parse_args()
    epochs_cnn, epochs_lenet = (20, 5) if args.quick else (100, 20)

    dl.manual_seed(args.seed)
    X, y = dl.data.load_digits(as_images=True)  # (1797, 8, 8, 1) in [0, 1], y (1797,)
    X_train, X_test, y_train, y_test = dl.data.train_test_split(X, y, test_size=0.2,
                                                                stratify=y)
    print(f"digits: X_train {X_train.shape}, X_test {X_test.shape}")

    cnn = train("The course's ConvNet", course_cnn(), 0.009, epochs_cnn,
                (X_train, y_train, X_test, y_test))
    print("  (course, on SIGNS: cost 1.917929 after epoch 0; Train Accuracy: 0.940741, "
          "Test Accuracy: 0.783333)")
    lenet = train("LeNet-5 (tanh, average pooling)", dl.models.LeNet5(), 0.001, epochs_lenet,
                  (upsample(X_train, 4), y_train, upsample(X_test, 4), y_test))

    fig, axes = subplots(2, cols=2, size=4.5)
    for name, run in (("ConvNet", cnn), ("LeNet-5", lenet)):
        logs = run["history"]
        for ax, key in zip(axes, ("loss", "accuracy")):
            epochs = np.arange(1, len(logs[key]) + 1)
            line, = ax.plot(epochs, logs[key], label=f"{name} train")
            ax.plot(epochs, logs[f"val_{key}"], "--", color=line.get_color(),
                    label=f"{name} test ({percent(run['test'])})" if key == "accuracy"
                    else f"{name} test")
    for ax, key in zip(axes, ("cost", "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_yscale("log")
    save(fig, args.out, "cnn_classifier.png")


if __name__ == "__main__":
    main()
