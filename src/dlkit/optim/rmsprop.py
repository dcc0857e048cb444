"""RMSprop, as the notes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dlkit.backend import array_module
from dlkit.optim.optimizer import Optimizer
from dlkit.tensor import Tensor


class RMSprop(Optimizer):
    """s = beta s + (1 - beta) dW^2;  W = W - lr dW / (sqrt(s) + eps)."""

    hyperparameters = ("lr", "weight_decay", "beta", "eps")

    def __init__(self, params: Iterable[Tensor], lr: float = 0.001, beta: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"RMSprop: expected beta in [0, 1), got {beta}")
        self.beta, self.eps = beta, eps

    def update(self, w: Any, g: Any, state: dict[str, Any], tmp: Any) -> None:
        xp = array_module(w)
        s = self.zeros_like_state(state, "s", w)
        xp.multiply(g, g, out=tmp)  # s += (1 - beta) (g^2 - s), in place
        tmp -= s
        tmp *= 1 - self.beta
        s += tmp
        xp.sqrt(s, out=tmp)
        tmp += self.eps
        xp.divide(g, tmp, out=tmp)
        tmp *= self.lr
        w -= tmp
