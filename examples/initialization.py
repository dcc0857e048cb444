"""Course 2, week 1 programming exercise: initialization.

A 3-layer network [2, 10, 5, 1] (LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID) on
two noisy concentric circles (scikit-learn's make_circles with noise 0.05 and its default
inner radius 0.8; 300 training points and a separately drawn test set of 100), trained by
full-batch gradient descent with learning rate 0.01 for 15000 iterations, three times, with
the weights initialised in three ways (biases always zero):

- zeros: every unit of a layer computes the same thing and gets the same gradient (here all
  weight gradients are zero), so the network never breaks symmetry; the course reports
  cost 0.693147 throughout, train 50 %, test 50 %;
- large random, randn * 10: the sigmoid saturates, the first cost is huge (inf in the course),
  learning is slow; the course reports train 83 %, test 86 %;
- He, randn * sqrt(2 / n[l-1]): the course reports train 99.33 %, test 96 %.

The course computes sigma and the cost separately (so a saturated sigmoid gives log(0) = -inf);
dlkit fuses them (``binary_cross_entropy_with_logits``), so the large-init cost is finite.
The data are drawn from dlkit's generator (``--seed``), not the course's NumPy seeds 1 and 2;
the two random initializations scale the same standard-normal draws.

    python examples/initialization.py            # about 10 s
    python examples/initialization.py --quick    # 3000 iterations
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from figures import DEFAULT_OUT, cost_curve, decision_boundary, percent, save, subplots

import dlkit as dl

LOSS = "binary_cross_entropy_with_logits"
COURSE = {"zeros": (50.0, 50.0), "large random (randn * 10)": (83.0, 86.0),
          "He": (99.33, 96.0)}


def large_random(shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
    """W = randn * 10, the course's "too large" initialization (a custom initializer is any
    function (shape, dtype) -> array)."""
    return dl.nn.init.small_random(shape, dtype, scale=10.0)


def three_layer(init: Any) -> dl.nn.Sequential:
    return dl.nn.Sequential(
        dl.nn.Linear(2, 10, init=init), dl.nn.ReLU(),
        dl.nn.Linear(10, 5, init=init), dl.nn.ReLU(),
        dl.nn.Linear(5, 1, init=init),
    )


def accuracy(model: dl.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return dl.train.evaluate(model, LOSS, X, y)["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the weights")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="3000 iterations")
    args = parser.parse_args()
    iterations = 3000 if args.quick else 15000

    dl.manual_seed(args.seed)
    X_train, y_train = dl.data.make_circles(300, noise=0.05, factor=0.8)
    X_test, y_test = dl.data.make_circles(100, noise=0.05, factor=0.8)
    weights_rng = dl.get_rng_state()  # every model draws from here: the same normal draws,
    fig, axes = subplots(4, cols=4, size=3.6)  # scaled by 10 or by sqrt(2 / n[l-1])

    for ax, (name, init) in zip(axes, [("zeros", "zeros"),
                                       ("large random (randn * 10)", large_random),
                                       ("He", "he")]):
        dl.set_rng_state(weights_rng)
        model = three_layer(init)
        optimizer = dl.optim.SGD(model.parameters(), lr=0.01)
        costs = dl.train.fit(model, LOSS, optimizer, X_train, y_train, epochs=iterations,
                             batch_size=len(X_train), shuffle=False)["loss"]
        print(f"\n{name} initialization:")
        for i in range(0, iterations, 1000):
            print(f"Cost after iteration {i}: {costs[i]:.6f}")
        train_acc, test_acc = accuracy(model, X_train, y_train), accuracy(model, X_test, y_test)
        course_train, course_test = COURSE[name]
        print(f"On the train set: {percent(train_acc)} (course: {course_train} %)")
        print(f"On the test set: {percent(test_acc)} (course: {course_test} %)")
        decision_boundary(ax, model, X_train, y_train,
                          f"{name}: train {percent(train_acc)}, test {percent(test_acc)}")
        cost_curve(axes[3], costs, label=name)
    axes[3].set_yscale("log")
    axes[3].set_title("cost (log scale)", fontsize=9)
    save(fig, args.out, "initialization.png")


if __name__ == "__main__":
    main()
