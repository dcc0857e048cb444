"""Adam, as the notes: momentum and RMSprop with bias correction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dlkit.backend import array_module
from dlkit.optim.optimizer import Optimizer
from dlkit.tensor import Tensor


class Adam(Optimizer):
    """v = b1 v + (1 - b1) dW,  s = b2 s + (1 - b2) dW^2,
    v_c = v / (1 - b1^t),  s_c = s / (1 - b2^t),  W = W - lr v_c / (sqrt(s_c) + eps).

    Computed in place as W -= lr sqrt(1 - b2^t) / (1 - b1^t) * v / (sqrt(s) + eps sqrt(1 - b2^t)),
    the same value without temporaries.
    """

    hyperparameters = ("lr", "weight_decay", "beta1", "beta2", "eps")

    def __init__(self, params: Iterable[Tensor], lr: float = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: expected {name} in [0, 1), got {beta}")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def update(self, w: Any, g: Any, state: dict[str, Any], tmp: Any) -> None:
        xp = array_module(w)
        v = self.zeros_like_state(state, "v", w)
        s = self.zeros_like_state(state, "s", w)
        b1, b2, t = self.beta1, self.beta2, self.step_count
        v *= b1
        xp.multiply(g, 1 - b1, out=tmp)
        v += tmp
        xp.multiply(g, g, out=tmp)  # s += (1 - b2) (g^2 - s), in place
        tmp -= s
        tmp *= 1 - b2
        s += tmp
        root_correction2 = (1 - b2**t) ** 0.5
        xp.sqrt(s, out=tmp)
        tmp += self.eps * root_correction2
        xp.divide(v, tmp, out=tmp)
        tmp *= self.lr * root_correction2 / (1 - b1**t)
        w -= tmp
