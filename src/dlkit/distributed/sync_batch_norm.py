"""Synchronized batch norm: the batch statistics of the global batch, by allreduce.

With per-rank batch norm each rank normalizes by its own shard's mean and variance; with
``SyncBatchNorm`` every rank uses the mean and variance over all ranks' examples, so N ranks
of batch B/N compute exactly what one process computes with batch B.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.distributed import comm as dist
from dlkit.errors import shape_error
from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm1d
from dlkit.ops.normalization import batch_norm
from dlkit.tensor import Function, Tensor, as_tensor


class SyncBatchNormFunction(Function):
    """Channels-last, features C on the last axis; n_r values per feature on rank r,
    N = sum_r n_r.

    Forward:  mu = allreduce(sum z) / N, s2 = allreduce(sum (z - mu)^2) / N,
              z_norm = (z - mu) / sqrt(s2 + eps), z~ = gamma z_norm + beta; running stats
              as ``batch_norm`` with N values (unbiased variance N / (N - 1) s2).
    Backward: with the global sums S_b = allreduce(sum dz~), S_g = allreduce(sum dz~ z_norm),
              dz = gamma / sqrt(s2 + eps) (dz~ - S_b / N - z_norm S_g / N); dgamma and dbeta
              are this rank's sums (the gradient averaging adds the ranks up).
    """

    def __init__(self, running_mean: Any, running_var: Any, momentum: float,
                 eps: float) -> None:
        self.running_mean, self.running_var = running_mean, running_var
        self.momentum, self.eps = momentum, eps

    def forward(self, x, gamma, beta):
        c = x.shape[-1]
        n_local = x.size // c
        self.shape = x.shape
        x2 = x.reshape(n_local, c)
        stats = np.empty(c + 1, x.dtype)
        stats[:c] = x2.sum(axis=0)
        stats[c] = n_local
        dist.allreduce_(stats)
        n = stats[c]
        if n < 2:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per feature over all "
                             f"ranks in training, got input of shape {x.shape}")
        mu = stats[:c] / n
        x_norm = x2 - mu
        var = np.ascontiguousarray((x_norm * x_norm).sum(axis=0))
        dist.allreduce_(var)
        var /= n
        m = self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * mu
        self.running_var *= 1 - m
        self.running_var += (m * n / (n - 1)) * var
        self.n = n
        self.inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))
        x_norm *= self.inv_std
        self.x_norm, self.gamma = x_norm, gamma
        return (x_norm * gamma + beta).reshape(x.shape)

    def backward(self, gy):
        c = gy.shape[-1]
        g2 = gy.reshape(-1, c)
        sums = np.empty(2 * c, gy.dtype)
        sums[:c] = g2.sum(axis=0)
        sums[c:] = (g2 * self.x_norm).sum(axis=0)
        dbeta, dgamma = sums[:c].copy(), sums[c:].copy()
        dist.allreduce_(sums)
        scale = self.gamma * self.inv_std
        n = gy.dtype.type(self.n)
        gx = g2 * scale
        gx -= self.x_norm * (scale * sums[c:] / n)
        gx -= scale * sums[:c] / n
        return gx.reshape(self.shape), dgamma, dbeta


@register
class SyncBatchNorm(BatchNorm1d):
    """Batch norm over the last axis (dense (m, n) or images (m, n_H, n_W, n_C)) whose
    training statistics are those of the global batch over all ranks. In eval mode, or in a
    world of one, it is ``BatchNorm1d``/``BatchNorm2d``. ``SyncBatchNorm.convert(model)``
    replaces every batch norm of a model, keeping its weights and running averages;
    ``SyncBatchNorm.revert(model)`` puts them back."""

    expected_ndim = 0   # any ndim >= 2

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[-1] != self.n_features:
            raise shape_error("SyncBatchNorm", f"input with {self.n_features} features on the "
                              "last axis", x.shape)
        training = self.training and (self.gamma.requires_grad or self.beta.requires_grad)
        if not training or dist.world_size() == 1:
            return batch_norm(x, self.gamma, self.beta, self.running_mean, self.running_var,
                              training, self.momentum, self.eps)
        fn = SyncBatchNormFunction(self.running_mean, self.running_var, self.momentum, self.eps)
        return fn(as_tensor(x), self.gamma, self.beta)

    @classmethod
    def convert(cls, model: Module) -> Module:
        """Replace every ``BatchNorm1d``/``BatchNorm2d`` in ``model`` (in place; the model is
        returned) by a ``SyncBatchNorm`` with the same weights and running averages."""
        if isinstance(model, BatchNorm1d) and not isinstance(model, cls):
            return cls._from(model)
        for _, module in list(model.named_modules()):
            for name, child in list(module._modules.items()):
                if isinstance(child, BatchNorm1d) and not isinstance(child, cls):
                    setattr(module, name, cls._from(child))
        return model

    @classmethod
    def revert(cls, model: Module) -> Module:
        """Undo ``convert``: each ``SyncBatchNorm`` becomes the batch norm it replaced
        (``BatchNorm1d`` when it was built directly), with the same weights and averages."""
        if isinstance(model, cls):
            return model._back()
        for _, module in list(model.named_modules()):
            for name, child in list(module._modules.items()):
                if isinstance(child, cls):
                    setattr(module, name, child._back())
        return model

    def _back(self) -> BatchNorm1d:
        kind = getattr(self, "_origin", BatchNorm1d)
        old = kind(self.n_features, self.momentum, self.eps, dtype=self.gamma.dtype)
        old.gamma, old.beta = self.gamma, self.beta
        old.register_buffer("running_mean", self.running_mean)
        old.register_buffer("running_var", self.running_var)
        old.train(self.training)
        return old

    @classmethod
    def _from(cls, bn: BatchNorm1d) -> SyncBatchNorm:
        new = cls(bn.n_features, bn.momentum, bn.eps, dtype=bn.gamma.dtype)
        object.__setattr__(new, "_origin", type(bn))
        new.gamma, new.beta = bn.gamma, bn.beta
        new.register_buffer("running_mean", bn.running_mean)
        new.register_buffer("running_var", bn.running_var)
        new.train(bn.training)
        return new
