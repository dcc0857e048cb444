"""Batch normalization, as the notes: normalize z per feature over the mini-batch, then
scale and shift by the learned gamma and beta; at test time use running averages."""

from __future__ import annotations

from typing import Any

from dlkit.backend import array_module
from dlkit.errors import shape_error
from dlkit.ops.reduction import column_dots, column_sums
from dlkit.tensor import Function, Tensor, as_tensor


class BatchNorm(Function):
    """Channels-last: statistics over every axis but the last (C features), N values each.

    Train:  mu = mean(z), s2 = mean((z - mu)^2), z_norm = (z - mu) / sqrt(s2 + eps),
            z~ = gamma z_norm + beta; running = (1 - momentum) running + momentum batch
            (the running variance uses the unbiased batch variance, as PyTorch).
    Test:   z_norm = (z - running_mean) / sqrt(running_var + eps).
    Backward (train): dbeta = sum dz~, dgamma = sum(dz~ z_norm), and the notes'
            dz = (1/N) / sqrt(s2 + eps) * (N dzn - sum dzn - z_norm sum(dzn z_norm)) with
            dzn = gamma dz~, i.e.  dz = k (dz~ - dbeta/N - z_norm dgamma/N),
            k = gamma / sqrt(s2 + eps): three passes over the batch.
    The reductions run on the (N, C) matrix (BLAS). z_norm is not stored: the forward keeps
    z - mu and 1 / sqrt(s2 + eps), and z_norm's uses are folded into per-feature factors.
    """

    def __init__(self, running_mean: Any, running_var: Any, training: bool, momentum: float,
                 eps: float) -> None:
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps

    def forward(self, x, gamma=None, beta=None):
        xp = array_module(x)
        c = x.shape[-1]
        n = x.size // c
        self.n, self.shape = n, x.shape
        x2 = x.reshape(n, c)
        if self.training:
            if n < 2:
                raise ValueError(
                    f"batch_norm: expected more than 1 value per feature in training, got input "
                    f"of shape {x.shape}; use eval mode for a single example"
                )
            mu = column_sums(x2) / x.dtype.type(n)
            centered = x2 - mu
            var = column_dots(centered, centered) / x.dtype.type(n)
            m = self.momentum
            if self.running_mean is not None:
                self.running_mean *= 1 - m
                self.running_mean += m * mu
            if self.running_var is not None:
                self.running_var *= 1 - m
                self.running_var += (m * n / (n - 1)) * var
        else:
            if self.running_mean is None or self.running_var is None:
                raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
            centered = x2 - self.running_mean.astype(x.dtype, copy=False)
            var = self.running_var.astype(x.dtype, copy=False)
        self.inv_std = 1 / xp.sqrt(var + x.dtype.type(self.eps))
        # z_norm = centered * inv_std is never stored: y = centered * (gamma inv_std) + beta
        # in two passes, and backward reads centered (one pass fewer than z_norm first)
        self.centered, self.gamma = centered, gamma
        scale = self.inv_std if gamma is None else gamma * self.inv_std
        y = centered * scale
        if beta is not None:
            y += beta
        return y.reshape(x.shape)

    def backward(self, gy):
        c = gy.shape[-1]
        g2 = gy.reshape(self.n, c)
        need_gamma = self.gamma is not None and self.needs_grad(1)
        need_beta = len(self.inputs) > 2 and self.needs_grad(2)
        scale = self.inv_std if self.gamma is None else self.gamma * self.inv_std
        gx = dgamma = dbeta = None
        if self.training:
            dbeta = column_sums(g2)
            dgamma = column_dots(g2, self.centered) * self.inv_std  # sum dz~ z_norm
            if self.needs_grad(0):
                n = gy.dtype.type(self.n)
                gx = g2 * scale
                gx -= self.centered * (scale * self.inv_std * dgamma / n)
                gx -= scale * dbeta / n
        else:
            if self.needs_grad(0):
                gx = g2 * scale
            if need_beta:
                dbeta = column_sums(g2)
            if need_gamma:
                dgamma = column_dots(g2, self.centered) * self.inv_std
        grads = [None if gx is None else gx.reshape(self.shape)]
        if self.gamma is not None:
            grads.append(dgamma if need_gamma else None)
        if len(self.inputs) > len(grads):
            grads.append(dbeta if need_beta else None)
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
