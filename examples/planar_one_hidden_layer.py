"""Course 1, week 3 programming exercise: planar data classification with one hidden layer.

The "flower" set (400 points in two classes on the petals of a rose curve) is not linearly
separable. The exercise first fits logistic regression, then a network with one hidden layer
of 4 tanh units and a sigmoid output:

    Z1 = X W1^T + b1, A1 = tanh(Z1), Z2 = A1 W2^T + b2, A2 = sigma(Z2)

weights drawn as randn * 0.01 (``init="small"``), biases zero, full-batch gradient descent
with learning rate 1.2 for 10000 iterations; then the hidden layer size is swept over
1, 2, 3, 4, 5, 20, 50 (5000 iterations each). Accuracies are on the training set, as the
course reports them:

    logistic regression: 47 %
    4 hidden units: 90 % (Cost after iteration 9000: 0.218607)
    hidden sizes 1, 2, 3, 4, 5, 20, 50: 67.5, 67.25, 90.75, 90.5, 91.25, 90.0, 90.25 %

The course draws its flower with NumPy's legacy generator seeded with 1;
``dl.data.make_flower(400)`` draws the same kind of set from dlkit's generator (``--seed``),
so the points, and the figures, differ a little. ``--course-flower`` draws the course's very
points (same formula, NumPy seed 1); the weights still come from dlkit's generator.

    python examples/planar_one_hidden_layer.py                   # about 6 s
    python examples/planar_one_hidden_layer.py --course-flower   # the course's 400 points
    python examples/planar_one_hidden_layer.py --quick           # 2000 iterations a model
"""

from __future__ import annotations

import argparse

import numpy as np
from figures import DEFAULT_OUT, decision_boundary, percent, save, subplots

import dlkit as dl

LOSS = "binary_cross_entropy_with_logits"
HIDDEN_SIZES = (1, 2, 3, 4, 5, 20, 50)


def one_hidden_layer(n_h: int) -> dl.nn.Sequential:
    """n_x = 2 -> n_h tanh units -> 1 sigmoid unit (the sigmoid lives in the loss)."""
    return dl.nn.Sequential(dl.nn.Linear(2, n_h, init="small"), dl.nn.Tanh(),
                            dl.nn.Linear(n_h, 1, init="small"))


def course_flower(m: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """The course's load_planar_dataset(): make_flower's formula (r = 4 sin(4t) + noise) drawn
    from NumPy's legacy generator seeded with 1, in the course's order of draws."""
    rng = np.random.RandomState(1)
    n = m // 2
    X, y = np.zeros((m, 2)), np.zeros((m, 1))
    for j in range(2):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, n) + rng.randn(n) * 0.2
        r = 4 * np.sin(4 * t) + rng.randn(n) * 0.2
        X[j * n:(j + 1) * n] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[j * n:(j + 1) * n] = j
    return X.astype(dl.get_default_dtype()), y.astype(dl.get_default_dtype())


def train(model: dl.nn.Module, X: np.ndarray, y: np.ndarray, lr: float,
          iterations: int) -> list[float]:
    """Full-batch gradient descent; returns the cost of each iteration."""
    optimizer = dl.optim.SGD(model.parameters(), lr=lr)
    history = dl.train.fit(model, LOSS, optimizer, X, y, epochs=iterations, batch_size=len(X),
                           shuffle=False)
    return history["loss"]


def accuracy(model: dl.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return dl.train.evaluate(model, LOSS, X, y)["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the weights")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="2000 iterations a model")
    parser.add_argument("--course-flower", action="store_true",
                        help="the course's 400 points (NumPy seed 1) instead of make_flower's")
    args = parser.parse_args()
    iterations = 2000 if args.quick else 10000
    sweep_iterations = 2000 if args.quick else 5000

    dl.manual_seed(args.seed)
    X, y = course_flower() if args.course_flower else dl.data.make_flower(400)
    print(f"flower: X {X.shape}, y {y.shape}, {int(y.sum())} of class 1")
    fig, axes = subplots(2 + len(HIDDEN_SIZES), cols=3)

    logistic = dl.nn.Linear(2, 1, init="zeros")
    train(logistic, X, y, lr=1.2, iterations=1000)
    acc = accuracy(logistic, X, y)
    print(f"Accuracy of logistic regression: {percent(acc)} (course: 47 %)")
    decision_boundary(axes[0], logistic, X, y, f"logistic regression: {percent(acc)}")

    model = one_hidden_layer(4)
    costs = train(model, X, y, lr=1.2, iterations=iterations)
    for i in range(0, iterations, 1000):
        print(f"Cost after iteration {i}: {costs[i]:.6f}")
    acc = accuracy(model, X, y)
    print(f"Accuracy with 4 hidden units ({iterations} iterations): {percent(acc)} "
          f"(course: 90 %)")
    decision_boundary(axes[1], model, X, y, f"4 tanh units, {iterations} its: {percent(acc)}")

    course = dict(zip(HIDDEN_SIZES, (67.5, 67.25, 90.75, 90.5, 91.25, 90.0, 90.25)))
    print(f"\nhidden layer sizes ({sweep_iterations} iterations each):")
    for ax, n_h in zip(axes[2:], HIDDEN_SIZES):
        model = one_hidden_layer(n_h)
        train(model, X, y, lr=1.2, iterations=sweep_iterations)
        acc = accuracy(model, X, y)
        print(f"Accuracy for {n_h} hidden units: {percent(acc)} (course: {course[n_h]} %)")
        decision_boundary(ax, model, X, y, f"hidden layer of size {n_h}: {percent(acc)}")
    save(fig, args.out, "planar_one_hidden_layer.png")


if __name__ == "__main__":
    main()
