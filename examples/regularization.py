"""Course 2, week 1 programming exercise: regularization.

A 3-layer network [2, 20, 3, 1] (LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, weights
randn / sqrt(n[l-1]), ``init="xavier"``) trained by full-batch gradient descent, learning rate
0.3, 30000 iterations, three ways:

- without regularization;
- with L2 regularization, lambda = 0.7: the cost gains lambda/(2m) sum_l ||W[l]||_F^2 and each
  dW[l] gains (lambda/m) W[l]. dlkit does it either way: as the cost term
  (``fit(..., l2=lambda)``, which adds ``dl.nn.l2_penalty``) or as the gradient term
  (``SGD(weight_decay=lambda/m)``); the script trains both from the same weights and prints
  how far apart they end;
- with inverted dropout after both hidden layers, keep_prob = 0.86 (``Dropout(p=0.14)``),
  active while training, off when predicting.

The course's data are the positions where a French goalkeeper kicked the ball and which team's
player headed it (211 training and 200 test points); it reports, train / test accuracy:

    no regularization  94.8 / 91.5 %    L2, lambda 0.7  93.8 / 93 %    dropout 0.86  92.9 / 95 %

Those points (football.csv: x1, x2, label, 211 training rows then 200 test rows) are not
bundled with dlkit; pass ``--csv PATH`` to use them. The offline default is scikit-learn's two
moons with noise 0.4, 211 training and 200 test points drawn separately; there the gain of
regularization depends on the draw (``--seed``), see examples/README.md.

    python examples/regularization.py            # about 20 s
    python examples/regularization.py --csv path/to/football.csv
    python examples/regularization.py --quick    # 5000 iterations
"""

from __future__ import annotations

import argparse

import numpy as np
from figures import DEFAULT_OUT, decision_boundary, percent, save, subplots

import dlkit as dl

LOSS = "binary_cross_entropy_with_logits"
LAMBDA, KEEP_PROB = 0.7, 0.86


def three_layer(keep_prob: float = 1.0) -> dl.nn.Sequential:
    drop = [dl.nn.Dropout(p=1 - keep_prob)] if keep_prob < 1 else []
    return dl.nn.Sequential(
        dl.nn.Linear(2, 20, init="xavier"), dl.nn.ReLU(), *drop,
        dl.nn.Linear(20, 3, init="xavier"), dl.nn.ReLU(), *drop,
        dl.nn.Linear(3, 1, init="xavier"),
    )


def train(model: dl.nn.Module, X: np.ndarray, y: np.ndarray, iterations: int, l2: float = 0.0,
          weight_decay: float = 0.0) -> list[float]:
    """Full-batch gradient descent, lr 0.3; ``l2`` adds the notes' cost term
    ``dl.nn.l2_penalty`` = lambda/(2m) sum ||W||^2, ``weight_decay`` adds w_d W to each dW.
    Returns the cost of each iteration (with the L2 term when there is one)."""
    optimizer = dl.optim.SGD(model.parameters(), lr=0.3, weight_decay=weight_decay)
    history = dl.train.fit(model, LOSS, optimizer, X, y, epochs=iterations, batch_size=len(X),
                           shuffle=False, metrics=(), l2=l2)
    return history["loss"]


def accuracy(model: dl.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return dl.train.evaluate(model, LOSS, X, y)["accuracy"]


def load(csv: str | None) -> tuple[np.ndarray, ...]:
    """X_train, y_train, X_test, y_test."""
    if csv:
        X, y = dl.data.load_csv(csv)
        return X[:211], y[:211], X[211:], y[211:]
    X_train, y_train = dl.data.make_moons(211, noise=0.4)
    X_test, y_test = dl.data.make_moons(200, noise=0.4)
    return X_train, y_train, X_test, y_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", help="the course's football.csv (x1, x2, label; 211 + 200 rows)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the weights")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="5000 iterations")
    args = parser.parse_args()
    iterations = 5000 if args.quick else 30000

    dl.manual_seed(args.seed)
    X_train, y_train, X_test, y_test = load(args.csv)
    m = len(X_train)
    print(f"{'football' if args.csv else 'moons'}: {m} training and {len(X_test)} test points")
    init_state = dl.get_rng_state()  # every model starts from the same weights
    fig, axes = subplots(3, cols=3, size=4)
    runs = [("no regularization", 1.0, 0.0, (94.8, 91.5)),
            (f"L2, lambda = {LAMBDA}", 1.0, LAMBDA, (93.8, 93.0)),
            (f"dropout, keep_prob = {KEEP_PROB}", KEEP_PROB, 0.0, (92.9, 95.0))]
    for ax, (name, keep_prob, l2, course) in zip(axes, runs):
        dl.set_rng_state(init_state)
        model = three_layer(keep_prob)
        costs = train(model, X_train, y_train, iterations, l2=l2)
        print(f"\n{name}:")
        for i in range(0, iterations, 10000):
            print(f"Cost after iteration {i}: {costs[i]:.6f}")
        train_acc, test_acc = accuracy(model, X_train, y_train), accuracy(model, X_test, y_test)
        print(f"train accuracy {percent(train_acc)}, test accuracy {percent(test_acc)} "
              f"(course: {course[0]} / {course[1]} %)")
        decision_boundary(ax, model, X_train, y_train,
                          f"{name}\ntrain {percent(train_acc)}, test {percent(test_acc)}")
        if l2:
            l2_model = model

    # the same L2 regularization as the optimizer's weight decay: dW += (lambda / m) W
    dl.set_rng_state(init_state)
    decayed = three_layer()
    train(decayed, X_train, y_train, iterations, weight_decay=LAMBDA / m)
    gap = max(float(np.abs(a.numpy() - b.numpy()).max())
              for a, b in zip(l2_model.parameters(), decayed.parameters()))
    print(f"\nL2 as SGD(weight_decay=lambda/m = {LAMBDA / m:.6f}) instead of the cost term: "
          f"train accuracy {percent(accuracy(decayed, X_train, y_train))}, test accuracy "
          f"{percent(accuracy(decayed, X_test, y_test))}; largest difference between the two "
          f"runs' parameters after {iterations} iterations: {gap:.2e}"
          + (" (the same bits)" if gap == 0 else ""))
    save(fig, args.out, "regularization.png")


if __name__ == "__main__":
    main()
