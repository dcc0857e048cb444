"""LayerNorm: the layer of ``ops.layer_norm`` (the Transformer's normalization)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import get_default_dtype
from dlkit.errors import shape_error
from dlkit.nn.config import register
from dlkit.nn.module import Module
from dlkit.nn.parameter import Parameter
from dlkit.ops.layer_norm import layer_norm
from dlkit.tensor import Tensor


@register
class LayerNorm(Module):
    """Normalize each example's last axis (``normalized_shape`` features), then scale by
    ``weight`` (ones) and shift by ``bias`` (zeros); as ``torch.nn.LayerNorm(D)``."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, (tuple, list)):
            if len(normalized_shape) != 1:
                raise ValueError(f"LayerNorm: normalizes the last axis only; expected one size, "
                                 f"got {tuple(normalized_shape)}")
            normalized_shape = normalized_shape[0]
        if int(normalized_shape) <= 0:
            raise ValueError(f"LayerNorm: expected a positive size, got {normalized_shape}")
        dt = np.dtype(dtype or get_default_dtype())
        self.normalized_shape, self.eps = int(normalized_shape), float(eps)
        self.weight = Parameter(np.ones(self.normalized_shape, dt)) if elementwise_affine \
            else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dt)) if elementwise_affine \
            else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1:] != (self.normalized_shape,):
            raise shape_error("LayerNorm", f"input of shape (..., {self.normalized_shape})",
                              x.shape)
        return layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"

    def get_config(self) -> dict[str, Any]:
        dt = (self.weight.dtype if self.weight is not None else get_default_dtype())
        return {"normalized_shape": self.normalized_shape, "eps": self.eps,
                "elementwise_affine": self.weight is not None, "dtype": np.dtype(dt).name}


__all__ = ["LayerNorm"]
