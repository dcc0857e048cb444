"""Course 1, week 2 programming exercise: logistic regression with a neural network mindset.

One sigmoid unit, a_i = sigma(w x_i + b), trained on the cost
J = -(1/m) sum_i (y_i log a_i + (1 - y_i) log(1 - a_i)) by full-batch gradient descent:
w and b start at zero, learning rate 0.005, 2000 iterations, the cost printed every 100.
In dlkit that is ``Linear(n_x, 1, init="zeros")`` whose logit goes into
``binary_cross_entropy_with_logits`` (the sigmoid and the cost in one stable op, whose
backward is the notes' dZ = A - Y), stepped by ``optim.SGD`` over one batch of all m examples.

With ``--data DIR`` it runs on the course's cat / non-cat files (DIR/train_catvnoncat.h5,
DIR/test_catvnoncat.h5: 209 and 50 RGB images of 64x64 flattened to 12288 features, pixels
divided by 255). The course reports there:

    Cost after iteration 0: 0.693147 ... Cost after iteration 1900: 0.140872
    train accuracy: 99.04 %   test accuracy: 70.0 %

and, for 1500 iterations at learning rates 0.01 / 0.001 / 0.0001, train 99.52 / 88.99 /
68.42 % and test 68 / 64 / 36 % (the learning-rate comparison plot).

Without ``--data`` (offline default) it runs on scikit-learn's breast cancer set (569 examples,
30 features), an 80/20 stratified split, standardized with the training set's mean and std.

    python examples/logistic_regression.py
    python examples/logistic_regression.py --data path/to/course-data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from figures import DEFAULT_OUT, cost_curve, percent, save, subplots

import dlkit as dl

LOSS = "binary_cross_entropy_with_logits"


def load(data_dir: str | None) -> tuple[np.ndarray, ...]:
    """X_train, y_train, X_test, y_test, batch-first: X (m, n_x), y (m, 1)."""
    if data_dir:
        d = Path(data_dir)
        X_train, y_train, _ = dl.data.load_h5_images(d / "train_catvnoncat.h5", "train")
        X_test, y_test, _ = dl.data.load_h5_images(d / "test_catvnoncat.h5", "test")
        # (m, 64, 64, 3) -> (m, 12288): the course's reshape(m, -1), one example a row
        return X_train.reshape(len(X_train), -1), y_train, X_test.reshape(len(X_test), -1), y_test
    X, y = dl.data.load_breast_cancer()
    X_train, X_test, y_train, y_test = dl.data.train_test_split(X, y, test_size=0.2, stratify=y)
    scaler = dl.data.Standardizer().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


def train(X: np.ndarray, y: np.ndarray, lr: float, iterations: int) -> tuple[dl.nn.Linear,
                                                                             list[float]]:
    """Logistic regression from w = 0, b = 0; returns the model and the cost per iteration
    (each cost is computed before that iteration's update, as the course prints it)."""
    model = dl.nn.Linear(X.shape[1], 1, init="zeros")
    optimizer = dl.optim.SGD(model.parameters(), lr=lr)
    history = dl.train.fit(model, LOSS, optimizer, X, y, epochs=iterations,
                           batch_size=len(X), shuffle=False)
    return model, history["loss"]


def accuracy(model: dl.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return dl.train.evaluate(model, LOSS, X, y)["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with train_catvnoncat.h5 and test_catvnoncat.h5")
    parser.add_argument("--seed", type=int, default=1, help="seed of the split (default 1)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="300 iterations instead of 2000")
    args = parser.parse_args()

    dl.manual_seed(args.seed)
    X_train, y_train, X_test, y_test = load(args.data)
    name = "cat / non-cat" if args.data else "breast cancer"
    print(f"{name}: {len(X_train)} training and {len(X_test)} test examples, "
          f"{X_train.shape[1]} features")
    iterations = 300 if args.quick else 2000
    compare_iterations = 300 if args.quick else 1500

    model, costs = train(X_train, y_train, lr=0.005, iterations=iterations)
    for i in range(0, iterations, 100):
        print(f"Cost after iteration {i}: {costs[i]:.6f}")
    print(f"train accuracy: {percent(accuracy(model, X_train, y_train))}")
    print(f"test accuracy: {percent(accuracy(model, X_test, y_test))}")

    fig, (ax_cost, ax_lr) = subplots(2, cols=2, size=4.5)
    cost_curve(ax_cost, costs, label="learning rate 0.005")
    ax_cost.set_title(f"logistic regression, {name}", fontsize=9)

    print(f"\nlearning rates ({compare_iterations} iterations):")
    for lr in (0.01, 0.001, 0.0001):
        model, costs = train(X_train, y_train, lr=lr, iterations=compare_iterations)
        print(f"learning rate {lr}: train accuracy {percent(accuracy(model, X_train, y_train))}"
              f", test accuracy {percent(accuracy(model, X_test, y_test))}, "
              f"final cost {costs[-1]:.6f}")
        cost_curve(ax_lr, costs, label=f"learning rate {lr}")
    ax_lr.set_title("learning-rate comparison", fontsize=9)
    save(fig, args.out, "logistic_regression.png")


if __name__ == "__main__":
    main()
