"""Gradient descent and gradient descent with momentum, as the notes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dlkit.backend import array_module
from dlkit.optim.optimizer import Optimizer
from dlkit.tensor import Tensor


class SGD(Optimizer):
    """W = W - lr * dW."""

    def update(self, w: Any, g: Any, state: dict[str, Any], tmp: Any) -> None:
        array_module(w).multiply(g, self.lr, out=tmp)
        w -= tmp


class Momentum(Optimizer):
    """v = beta v + (1 - beta) dW;  W = W - lr v  (the notes' exponentially weighted form;
    PyTorch's SGD momentum omits the (1 - beta) and so needs a smaller lr)."""

    hyperparameters = ("lr", "weight_decay", "beta")

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, beta: float = 0.9,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Momentum: expected beta in [0, 1), got {beta}")
        self.beta = beta

    def update(self, w: Any, g: Any, state: dict[str, Any], tmp: Any) -> None:
        xp = array_module(w)
        v = self.zeros_like_state(state, "v", w)
        v *= self.beta
        xp.multiply(g, 1 - self.beta, out=tmp)
        v += tmp
        xp.multiply(v, self.lr, out=tmp)
        w -= tmp
