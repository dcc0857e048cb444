"""Batch normalization, as the notes: normalize z per feature over the mini-batch, then
scale and shift by the learned gamma and beta; at test time use running averages."""

from __future__ import annotations

from typing import Any

from dlkit.backend import array_module
from dlkit.errors import shape_error
from dlkit.tensor import Function, Tensor, as_tensor


class BatchNorm(Function):
    """Channels-last: statistics over every axis but the last (C features).

    Train:  mu = mean(z), s2 = mean((z - mu)^2), z_norm = (z - mu) / sqrt(s2 + eps),
            z~ = gamma z_norm + beta; running = (1 - momentum) running + momentum batch
            (the running variance uses the unbiased batch variance, as PyTorch).
    Test:   z_norm = (z - running_mean) / sqrt(running_var + eps).
    Backward (train, N values per feature, dzn = dz~ gamma):
            dz = (1/N) / sqrt(s2 + eps) * (N dzn - sum dzn - z_norm sum(dzn z_norm)),
            dgamma = sum(dz~ z_norm), dbeta = sum(dz~).
    """

    def __init__(self, running_mean: Any, running_var: Any, training: bool, momentum: float,
                 eps: float) -> None:
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps

    def forward(self, x, gamma=None, beta=None):
        xp = array_module(x)
        axes = tuple(range(x.ndim - 1))
        self.axes = axes
        n = x.size // x.shape[-1]
        self.n = n
        if self.training:
            if n < 2:
                raise ValueError(
                    f"batch_norm: expected more than 1 value per feature in training, got input "
                    f"of shape {x.shape}; use eval mode for a single example"
                )
            mu = x.mean(axis=axes)
            centered = x - mu
            var = (centered * centered).mean(axis=axes)
            if self.running_mean is not None:
                m = self.momentum
                self.running_mean *= 1 - m
                self.running_mean += m * mu
            if self.running_var is not None:
                m = self.momentum
                self.running_var *= 1 - m
                self.running_var += (m * n / (n - 1)) * var
        else:
            if self.running_mean is None or self.running_var is None:
                raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
            centered = x - self.running_mean.astype(x.dtype, copy=False)
            var = self.running_var.astype(x.dtype, copy=False)
        self.inv_std = 1 / xp.sqrt(var + x.dtype.type(self.eps))
        self.x_norm = centered * self.inv_std
        self.gamma = gamma
        y = self.x_norm * gamma if gamma is not None else self.x_norm.copy()
        if beta is not None:
            y += beta
        return y

    def backward(self, gy):
        axes = self.axes
        gx_norm = gy * self.gamma if self.gamma is not None else gy
        if self.training:
            s1 = gx_norm.sum(axis=axes)
            s2 = (gx_norm * self.x_norm).sum(axis=axes)
            gx = (self.inv_std / self.n) * (self.n * gx_norm - s1 - self.x_norm * s2)
        else:
            gx = gx_norm * self.inv_std
        grads = [gx]
        if self.gamma is not None:
            grads.append((gy * self.x_norm).sum(axis=axes) if self.needs_grad(1) else None)
        if len(self.inputs) > len(grads):
            grads.append(gy.sum(axis=axes))
        return tuple(grads)


def batch_norm(
    x: Any,
    gamma: Any = None,
    beta: Any = None,
    running_mean: Any = None,
    running_var: Any = None,
    training: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch norm over the last axis' features; running statistics (arrays or tensors of shape
    (C,)) are updated in place while training. ``momentum`` weighs the new batch."""
    x = as_tensor(x)
    c = x.shape[-1] if x.ndim else 0
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if v is not None and tuple(v.shape) != (c,):
            raise shape_error("batch_norm", f"{name} of shape ({c},) for input {x.shape}",
                              v.shape, "features are on the last axis (channels-last)")
    rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    rv = running_var.data if isinstance(running_var, Tensor) else running_var
    inputs = [x]
    if gamma is not None:
        inputs.append(as_tensor(gamma))
    if beta is not None:
        if gamma is None:
            raise ValueError("batch_norm: beta given without gamma; pass both or neither")
        inputs.append(as_tensor(beta))
    return BatchNorm(rm, rv, training, momentum, eps)(*inputs)
