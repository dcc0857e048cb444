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
        self.n, self.shape, self.k = n, x.shape, _fold(n, c)
        xw = x.reshape(n // self.k, self.k * c)  # k rows side by side: see _fold
        if self.training:
            if n < 2:
                raise ValueError(
                    f"batch_norm: expected more than 1 value per feature in training, got input "
                    f"of shape {x.shape}; use eval mode for a single example"
                )
            mu = self._per_feature(column_sums(xw)) / x.dtype.type(n)
            centered = xw - self._tiled(mu)
            var = self._per_feature(column_dots(centered, centered)) / x.dtype.type(n)
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
            centered = xw - self._tiled(self.running_mean.astype(x.dtype, copy=False))
            var = self.running_var.astype(x.dtype, copy=False)
        self.inv_std = 1 / xp.sqrt(var + x.dtype.type(self.eps))
        # z_norm = centered * inv_std is never stored: y = centered * (gamma inv_std) + beta
        # in two passes, and backward reads centered (one pass fewer than z_norm first)
        self.centered, self.gamma = centered, gamma
        scale = self.inv_std if gamma is None else gamma * self.inv_std
        y = centered * self._tiled(scale)
        if beta is not None:
            y += self._tiled(beta)
        return y.reshape(x.shape)

    def _tiled(self, v: Any) -> Any:
        """A per-feature vector (C,) repeated for the k folded rows: (k C,)."""
        return array_module(v).tile(v, self.k) if self.k > 1 else v

    def _per_feature(self, v: Any) -> Any:
        """Sums over the k folded rows of a (k C,) vector: (C,)."""
        return v.reshape(self.k, -1).sum(axis=0) if self.k > 1 else v

    def backward(self, gy):
        c = gy.shape[-1]
        g2 = gy.reshape(self.n // self.k, self.k * c)
        need_gamma = self.gamma is not None and self.needs_grad(1)
        need_beta = len(self.inputs) > 2 and self.needs_grad(2)
        scale = self.inv_std if self.gamma is None else self.gamma * self.inv_std
        gx = dgamma = dbeta = None
        if self.training or need_beta:
            dbeta = self._per_feature(column_sums(g2))
        if self.training or need_gamma:  # sum dz~ z_norm
            dgamma = self._per_feature(column_dots(g2, self.centered)) * self.inv_std
        if self.needs_grad(0):
            gx = g2 * self._tiled(scale)
            if self.training:
                n = gy.dtype.type(self.n)
                gx -= self.centered * self._tiled(scale * self.inv_std * dgamma / n)
                gx -= self._tiled(scale * dbeta / n)
        grads = [None if gx is None else gx.reshape(self.shape)]
        if self.gamma is not None:
            grads.append(dgamma if need_gamma else None)
        if len(self.inputs) > len(grads):
            grads.append(dbeta if need_beta else None)
        return tuple(grads)


def _fold(n: int, c: int) -> int:
    """How many rows of the (N, C) batch to lay side by side, (N / k, k C), so that every
    per-feature broadcast runs an inner loop of at least 256 elements: NumPy's loop over
    C = 32 columns costs 30% more per element (batch norm's forward and backward on
    (32768, 32): 3.5 -> 2.7 ms). k is a power of two dividing N; 1 for wide C."""
    k = 1
    while k * c < 256 and n % (2 * k) == 0:
        k *= 2
    return k


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
