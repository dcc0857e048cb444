"""L2 regularization as a term of the cost, as the notes write it."""

from __future__ import annotations

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.nn.module import Module
from dlkit.tensor import Tensor


def l2_penalty(model: Module, lambd: float, m: int) -> Tensor:
    """lambd / (2 m) * sum over the weights W of ||W||_F^2, a differentiable scalar Tensor.

    Weights are the parameters with ndim >= 2 (biases and batch-norm scales are not
    regularized, as in the notes). Its gradient is (lambd / m) W, so adding it to a mean loss
    over m examples gives the same step as an optimizer with ``weight_decay = lambd / m``.
    ``fit(..., l2=lambd)`` adds it to each batch's cost with m = that batch's size.
    """
    if lambd < 0:
        raise ValueError(f"l2_penalty: expected lambd >= 0, got {lambd}")
    if m <= 0:
        raise ValueError(f"l2_penalty: expected m (examples in the cost) > 0, got {m}")
    weights = [p for p in model.parameters() if p.ndim >= 2]
    if not weights:
        return Tensor(np.zeros((), get_default_dtype()))
    total = (weights[0] * weights[0]).sum()
    for w in weights[1:]:
        total = total + (w * w).sum()
    return total * (lambd / (2 * m))
