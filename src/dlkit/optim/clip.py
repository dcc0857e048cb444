"""Gradient clipping (against exploding gradients): by value and by global norm."""

from __future__ import annotations

import math
from collections.abc import Iterable

from dlkit.backend import array_module
from dlkit.tensor import Tensor


def clip_grad_value(params: Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient entry to [-clip_value, clip_value]."""
    if clip_value <= 0:
        raise ValueError(f"clip_grad_value: expected clip_value > 0, got {clip_value}")
    for p in params:
        if p.grad is not None:
            p.grad = array_module(p.grad).clip(p.grad, -clip_value, clip_value)


def clip_grad_norm(params: Iterable[Tensor], max_norm: float) -> float:
    """Scale all gradients by max_norm / ||g|| when the global L2 norm ||g|| exceeds max_norm.

    Returns the norm before clipping.
    """
    if max_norm <= 0:
        raise ValueError(f"clip_grad_norm: expected max_norm > 0, got {max_norm}")
    grads = [p for p in params if p.grad is not None]
    total = math.sqrt(sum(float((p.grad.astype("float64") ** 2).sum()) for p in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in grads:
            p.grad = p.grad * p.grad.dtype.type(scale)
    return total
