"""Course 2, week 1 programming exercise: gradient checking.

Backward propagation is checked against the two-sided difference of the cost,

    dtheta_approx[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps),   eps = 1e-7,
    difference = ||dtheta - dtheta_approx|| / (||dtheta|| + ||dtheta_approx||),

over all parameters at once (``dl.gradient_check``, float64). The course's threshold: below
2e-7 the backward is right, above it there is a mistake.

1. 1-D: J(theta) = theta x with x = 2, theta = 4. The course reports difference 2.9193e-10,
   "The gradient is correct!".
2. The course's 3-layer network LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID with
   W1 (5, 4), W2 (3, 5), W3 (1, 3) on 3 examples of 4 features, the cost
   J = -(1/m) sum(y log a3 + (1 - y) log(1 - a3)), checked three ways:
   - dlkit's autograd (``dl.linear``, ``dl.relu``, ``dl.binary_cross_entropy_with_logits``);
   - the course's backward_propagation_n written by hand as a ``dl.Function`` (forward and
     backward side by side, batch-first: dW = dZ^T A_prev / m);
   - the same Function with the course's two deliberate bugs, dW2 multiplied by 2 and db1
     computed with 4/m instead of 1/m. The course reports for it
     "There is a mistake in the backward propagation! difference = 0.2850931567761624",
     and below 2e-7 (about 1.19e-7) once the bugs are fixed.
   A check per parameter then points at the wrong gradients (b1 and W2). Per parameter the
   differences are noisier; the hand-written cost, log(1 - sigma(z)) computed as written,
   loses digits that the fused ``binary_cross_entropy_with_logits`` keeps, so its b1 lands near
   3e-7 even without bugs, against ~1e-9 for the autograd.

By default the parameters are the course's test case (NumPy's legacy generator seeded with 1,
gradient_check_n_test_case); ``--random`` draws them from dlkit's generator (``--seed``).

    python examples/gradient_checking.py            # about 1 s
"""

from __future__ import annotations

import argparse

import numpy as np
from figures import DEFAULT_OUT, save, subplots

import dlkit as dl

THRESHOLD = 2e-7
NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def course_test_case() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The course's gradient_check_n_test_case, batch-first: X (3, 4), y (3, 1), b (n,)."""
    rng = np.random.RandomState(1)
    x = rng.randn(4, 3)  # (n_x, m) in the course: examples in columns
    y = np.array([1.0, 1.0, 0.0])
    shapes = [(5, 4), (5, 1), (3, 5), (3, 1), (1, 3), (1, 1)]
    params = [rng.randn(*s) for s in shapes]
    params = [p.reshape(-1) if name.startswith("b") else p for name, p in zip(NAMES, params)]
    return x.T.copy(), y.reshape(-1, 1), params


def random_case() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The same shapes, drawn from dlkit's generator."""
    X = dl.randn(3, 4, dtype="float64").numpy()
    y = np.array([[1.0], [1.0], [0.0]])
    shapes = [(5, 4), (5,), (3, 5), (3,), (1, 3), (1,)]
    return X, y, [dl.randn(*s, dtype="float64").numpy() for s in shapes]


def autograd_cost(X: np.ndarray, y: np.ndarray):
    """J(W1, b1, W2, b2, W3, b3) from dlkit's ops; backward comes from each op's formula."""
    def cost(W1, b1, W2, b2, W3, b3):
        A1 = dl.relu(dl.linear(X, W1, b1))
        A2 = dl.relu(dl.linear(A1, W2, b2))
        return dl.binary_cross_entropy_with_logits(dl.linear(A2, W3, b3), y)

    return cost


class ThreeLayerCost(dl.Function):
    """The course's forward_propagation_n and backward_propagation_n as one op, batch-first:
    inputs W1, b1, W2, b2, W3, b3; output the cost J. ``bugs=True`` keeps the course's two
    deliberate mistakes in the backward."""

    def __init__(self, X: np.ndarray, y: np.ndarray, bugs: bool = False) -> None:
        self.X, self.y, self.bugs = X, y, bugs

    def forward(self, W1, b1, W2, b2, W3, b3):
        X, y = self.X, self.y
        Z1 = X @ W1.T + b1
        A1 = np.maximum(Z1, 0)
        Z2 = A1 @ W2.T + b2
        A2 = np.maximum(Z2, 0)
        Z3 = A2 @ W3.T + b3
        A3 = 1 / (1 + np.exp(-Z3))
        self.cache = (A1, A2, A3, W2, W3)
        logprobs = -np.log(A3) * y - np.log(1 - A3) * (1 - y)
        return np.asarray(logprobs.sum() / len(X))

    def backward(self, gy):
        X, y = self.X, self.y
        A1, A2, A3, W2, W3 = self.cache
        m = len(X)
        dZ3 = A3 - y
        dW3 = dZ3.T @ A2 / m
        db3 = dZ3.sum(axis=0) / m
        dZ2 = (dZ3 @ W3) * (A2 > 0)
        dW2 = dZ2.T @ A1 / m * (2 if self.bugs else 1)  # bug 1: dW2 twice too large
        db2 = dZ2.sum(axis=0) / m
        dZ1 = (dZ2 @ W2) * (A1 > 0)
        dW1 = dZ1.T @ X / m
        db1 = (4 if self.bugs else 1) / m * dZ1.sum(axis=0)  # bug 2: 4/m instead of 1/m
        return tuple(gy * g for g in (dW1, db1, dW2, db2, dW3, db3))


def handwritten_cost(X: np.ndarray, y: np.ndarray, bugs: bool):
    def cost(*params):  # a Function is called on tensors: wrap the fixed arrays
        return ThreeLayerCost(X, y, bugs)(*(dl.as_tensor(p) for p in params))

    return cost


def verdict(difference: float) -> str:
    if difference > THRESHOLD:
        return f"There is a mistake in the backward propagation! difference = {difference}"
    return f"Your backward propagation works perfectly fine! difference = {difference}"


def per_parameter(cost, params: list[np.ndarray]) -> list[float]:
    """The check on each parameter alone (the others held fixed): which gradient is wrong."""
    differences = []
    for k in range(len(params)):
        def only_k(p, k=k):
            return cost(*params[:k], p, *params[k + 1:])

        differences.append(dl.gradient_check(only_k, [params[k]]))
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="seed for --random")
    parser.add_argument("--random", action="store_true",
                        help="parameters from dlkit's generator instead of the course's case")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure")
    args = parser.parse_args()
    dl.manual_seed(args.seed)

    print("1-D gradient checking, J(theta) = theta * x, x = 2, theta = 4:")
    difference = dl.gradient_check(lambda theta: theta * 2.0, [np.array(4.0)])
    print(("The gradient is correct!" if difference < 1e-7 else "The gradient is wrong!")
          + f" difference = {difference}")

    X, y, params = random_case() if args.random else course_test_case()
    print(f"\n3-layer network, X {X.shape}, " + ", ".join(
        f"{n} {p.shape}" for n, p in zip(NAMES, params)))
    checks = {
        "dlkit autograd": autograd_cost(X, y),
        "hand-written backward": handwritten_cost(X, y, bugs=False),
        "hand-written backward with the course's bugs": handwritten_cost(X, y, bugs=True),
    }
    for name, cost in checks.items():
        print(f"{name}: J = {float(cost(*[dl.tensor(p) for p in params]).item()):.6f}")
        print("  " + verdict(dl.gradient_check(cost, params)))

    print("\nper parameter (relative difference):")
    table = {name: per_parameter(cost, params) for name, cost in checks.items()}
    print(f"{'':>46}" + "".join(f"{n:>10}" for n in NAMES))
    for name, differences in table.items():
        print(f"{name:>46}" + "".join(f"{d:10.1e}" for d in differences))

    fig, (ax,) = subplots(1, cols=1, size=5.5)
    width = 0.27
    for i, (name, differences) in enumerate(table.items()):
        ax.bar(np.arange(len(NAMES)) + (i - 1) * width, np.maximum(differences, 1e-17), width,
               label=name)
    ax.axhline(THRESHOLD, color="k", linestyle="--", linewidth=1, label="threshold 2e-7")
    ax.set_yscale("log")
    ax.set_ylim(top=1e6)  # room for the legend above the bars
    ax.set_xticks(np.arange(len(NAMES)), NAMES)
    ax.set_ylabel("relative difference")
    ax.set_title("gradient check per parameter", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    save(fig, args.out, "gradient_checking.png")


if __name__ == "__main__":
    main()
