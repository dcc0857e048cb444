"""Batch normalization layers (features on the last axis)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.errors import shape_error
from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.nn.parameter import Parameter
from dlkit.ops.normalization import batch_norm
from dlkit.tensor import Tensor


@register
class BatchNorm1d(Module):
    """Batch norm of a dense layer's Z (m, n): gamma, beta learned; running averages for
    evaluation. ``momentum`` weighs the new batch in the running averages (PyTorch's
    convention; Keras' momentum is 1 - this)."""

    expected_ndim = 2

    def __init__(self, n_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 dtype: Any = None) -> None:
        super().__init__()
        dt = dtype or get_default_dtype()
        self.n_features, self.momentum, self.eps = n_features, momentum, eps
        self.gamma = Parameter(np.ones(n_features, dt))
        self.beta = Parameter(np.zeros(n_features, dt))
        self.register_buffer("running_mean", np.zeros(n_features, dt))
        self.register_buffer("running_var", np.ones(n_features, dt))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != self.expected_ndim or x.shape[-1] != self.n_features:
            raise shape_error(
                type(self).__name__,
                f"{self.expected_ndim}-D input with {self.n_features} features on the last axis",
                x.shape,
            )
        # a frozen batch norm (gamma and beta not trainable) runs in inference mode, as
        # Keras: fine-tuning then neither changes nor uses the statistics of the new batches
        training = self.training and (self.gamma.requires_grad or self.beta.requires_grad)
        return batch_norm(x, self.gamma, self.beta, self.running_mean, self.running_var,
                          training, self.momentum, self.eps)

    def extra_repr(self) -> str:
        return f"{self.n_features}, momentum={self.momentum}, eps={self.eps}"

    def get_config(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "momentum": self.momentum, "eps": self.eps,
                "dtype": self.gamma.dtype.name}


@register
class BatchNorm2d(BatchNorm1d):
    """Batch norm of a convolution's Z (m, n_H, n_W, n_C): per channel, statistics over the
    examples and all positions (the notes' batch norm in CNNs)."""

    expected_ndim = 4
