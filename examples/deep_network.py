"""Course 1, week 4 programming exercise: deep neural network for image classification.

Two models, each trained by full-batch gradient descent with learning rate 0.0075 for 2500
iterations, the cost printed every 100:

- a 2-layer network [n_x, 7, 1], LINEAR -> RELU -> LINEAR -> SIGMOID, weights randn * 0.01
  (``init="small"``);
- an L-layer network [n_x, 20, 7, 5, 1], [LINEAR -> RELU] x 3 -> LINEAR -> SIGMOID, weights
  randn / sqrt(n[l-1]) (``init="xavier"``, as the course's initialize_parameters_deep of the
  application).

The sigmoid output is fused into the cost (``binary_cross_entropy_with_logits``). With
``--data DIR`` it runs on the course's cat / non-cat files (209 training and 50 test images,
64x64x3 flattened to 12288 features, divided by 255); the course reports there:

    2-layer:  Cost after iteration 0: 0.693050, 2400: 0.048555; train 100 %, test 72 %
    L-layer:  Cost after iteration 0: 0.771749, 2400: 0.092878; train 98.56 %, test 80 %

Without ``--data`` (offline default) it runs on scikit-learn's 8x8 handwritten digits as a
binary task, "is it a 0?" (``--digit`` picks another), split 80/20 stratified: 10 % positive
examples, so always answering "no" already scores 90 %, and standardized. There the 2-layer
network learns slowly: with weights of 0.01 the gradient reaching W1 is scaled by W2 ~ 0.01,
and after 2500 iterations its cost (~0.24) has only just gone below the 0.32 of the constant
answer, which it still gives: 90 %. ``--iterations 8000`` takes it to ~100 %.

The figure shows the two cost curves and up to 10 mislabelled test images.

    python examples/deep_network.py                                # digits, about 5 s
    python examples/deep_network.py --data path/to/course-data    # cat / non-cat, about 15 s
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from figures import DEFAULT_OUT, cost_curve, percent, predicted_class, save, subplots

import dlkit as dl

LOSS = "binary_cross_entropy_with_logits"


def load(data_dir: str | None, digit: int) -> tuple[tuple[np.ndarray, ...], tuple[int, ...],
                                                     str]:
    """(X_train, y_train, X_test, y_test) with X (m, n_x) flat, the image shape, a name."""
    if data_dir:
        d = Path(data_dir)
        X_train, y_train, _ = dl.data.load_h5_images(d / "train_catvnoncat.h5", "train")
        X_test, y_test, _ = dl.data.load_h5_images(d / "test_catvnoncat.h5", "test")
        shape = X_train.shape[1:]
        flat = X_train.reshape(len(X_train), -1), y_train, X_test.reshape(len(X_test), -1), y_test
        return flat, shape, "cat / non-cat"
    X, labels = dl.data.load_digits()
    y = (labels == digit).astype(X.dtype).reshape(-1, 1)
    X_train, X_test, y_train, y_test = dl.data.train_test_split(X, y, test_size=0.2, stratify=y)
    scaler = dl.data.Standardizer().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return (X_train, y_train, X_test, y_test), (8, 8, 1), f"digits: {digit} vs rest"


def mlp(sizes: list[int], init: str) -> dl.nn.Sequential:
    """[LINEAR -> RELU] x (L-1) -> LINEAR; the final sigmoid is in the loss."""
    layers: list[dl.nn.Module] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [dl.nn.Linear(n_in, n_out, init=init), dl.nn.ReLU()]
    layers.append(dl.nn.Linear(sizes[-2], sizes[-1], init=init))
    return dl.nn.Sequential(*layers)


def train(model: dl.nn.Module, X: np.ndarray, y: np.ndarray, iterations: int,
          lr: float = 0.0075) -> list[float]:
    """Full-batch gradient descent; prints and returns the cost of each iteration."""
    optimizer = dl.optim.SGD(model.parameters(), lr=lr)
    costs = dl.train.fit(model, LOSS, optimizer, X, y, epochs=iterations, batch_size=len(X),
                         shuffle=False)["loss"]
    for i in range(0, iterations, 100):
        print(f"Cost after iteration {i}: {costs[i]:.6f}")
    return costs


def accuracy(model: dl.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return dl.train.evaluate(model, LOSS, X, y)["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with train_catvnoncat.h5 and test_catvnoncat.h5")
    parser.add_argument("--digit", type=int, default=0,
                        help="without --data: the digit that is the positive class (default 0)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the split and the weights")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure")
    parser.add_argument("--iterations", type=int, default=2500, help="default 2500")
    parser.add_argument("--quick", action="store_true", help="500 iterations")
    args = parser.parse_args()
    iterations = 500 if args.quick else args.iterations

    dl.manual_seed(args.seed)
    (X_train, y_train, X_test, y_test), image_shape, name = load(args.data, args.digit)
    n_x = X_train.shape[1]
    print(f"{name}: {len(X_train)} training and {len(X_test)} test examples, {n_x} features, "
          f"{percent(y_train.mean())} positive in training")
    fig, axes = subplots(2, cols=2, size=4.5)

    print("\n2-layer network [n_x, 7, 1]:")
    two_layer = mlp([n_x, 7, 1], init="small")
    costs = train(two_layer, X_train, y_train, iterations)
    cost_curve(axes[0], costs, label="2-layer [n_x, 7, 1]")
    train_acc, test_acc = accuracy(two_layer, X_train, y_train), accuracy(two_layer, X_test,
                                                                          y_test)
    print(f"2-layer: train accuracy {percent(train_acc)}, test accuracy {percent(test_acc)}")

    print("\nL-layer network [n_x, 20, 7, 5, 1]:")
    deep = mlp([n_x, 20, 7, 5, 1], init="xavier")
    costs = train(deep, X_train, y_train, iterations)
    cost_curve(axes[0], costs, label="L-layer [n_x, 20, 7, 5, 1]")
    axes[0].set_title(f"learning rate 0.0075, {name}", fontsize=9)
    train_acc, test_acc = accuracy(deep, X_train, y_train), accuracy(deep, X_test, y_test)
    print(f"L-layer: train accuracy {percent(train_acc)}, test accuracy {percent(test_acc)}")

    wrong = np.flatnonzero(predicted_class(deep, X_test) != y_test.reshape(-1))
    print(f"{len(wrong)} mislabelled test images")
    axes[1].set_axis_off()
    axes[1].set_title("L-layer: mislabelled test images (true label)", fontsize=9)
    for k, i in enumerate(wrong[:10]):
        inset = axes[1].inset_axes([(k % 5) / 5, 0.5 * (1 - k // 5), 0.19, 0.45])
        image = X_test[i].reshape(image_shape)
        inset.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray_r"
                     if image.shape[-1] == 1 else None)
        inset.set_title(f"y = {int(y_test[i, 0])}", fontsize=8)
        inset.set_axis_off()
    save(fig, args.out, "deep_network.png")


if __name__ == "__main__":
    main()
