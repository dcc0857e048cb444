"""Layer normalization (the Transformer's normalization): statistics over each example's
features, not over the mini-batch, so training and inference compute the same thing."""

from __future__ import annotations

from typing import Any

from dlkit.backend import array_module
from dlkit.errors import shape_error
from dlkit.ops.reduction import column_dots, column_sums
from dlkit.tensor import Function, Tensor, as_tensor


class LayerNorm(Function):
    """Over the last axis (D features) of each row of x (..., D):

        mu = mean(x),  s2 = mean((x - mu)^2),  x_hat = (x - mu) / sqrt(s2 + eps),
        y = gamma x_hat + beta                                  (gamma, beta of shape (D,)).
    Backward, with g = dy gamma:
        dx = (g - mean(g) - x_hat mean(g x_hat)) / sqrt(s2 + eps),
        dgamma = sum_rows dy x_hat,  dbeta = sum_rows dy.
    The row statistics are (N, 1) columns; nothing larger than x is kept.
    """

    def __init__(self, eps: float) -> None:
        self.eps = eps

    def forward(self, x, gamma=None, beta=None):
        xp = array_module(x)
        d = x.shape[-1]
        x2 = x.reshape(-1, d)
        x_hat = x2 - x2.mean(axis=1, keepdims=True)
        var = xp.einsum("ij,ij->i", x_hat, x_hat)[:, None] / x.dtype.type(d)
        self.inv_std = 1 / xp.sqrt(var + x.dtype.type(self.eps))
        x_hat *= self.inv_std
        self.x_hat, self.gamma, self.shape = x_hat, gamma, x.shape
        y = x_hat * gamma if gamma is not None else x_hat.copy()
        if beta is not None:
            y += beta
        return y.reshape(x.shape)

    def backward(self, gy):
        d = gy.shape[-1]
        g2 = gy.reshape(-1, d)
        x_hat = self.x_hat
        gx = dgamma = dbeta = None
        if self.needs_grad(0):
            g = g2 * self.gamma if self.gamma is not None else g2
            gx = g - g.mean(axis=1, keepdims=True)
            gx -= x_hat * ((g * x_hat).mean(axis=1, keepdims=True))
            gx *= self.inv_std
            gx = gx.reshape(self.shape)
        grads = [gx]
        if self.gamma is not None:
            if self.needs_grad(1):
                dgamma = column_dots(g2, x_hat)
            grads.append(dgamma)
        if len(self.inputs) > len(grads):
            if self.needs_grad(2):
                dbeta = column_sums(g2)
            grads.append(dbeta)
        return tuple(grads)


def layer_norm(x: Any, gamma: Any = None, beta: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalize each row of x (..., D) over its D features, then scale by ``gamma`` and
    shift by ``beta`` (both (D,), optional); as ``torch.nn.functional.layer_norm(x, (D,))``."""
    x = as_tensor(x)
    if x.ndim == 0 or x.dtype.kind != "f":
        raise shape_error("layer_norm", "a float input of shape (..., D)", x.shape)
    d = x.shape[-1]
    for name, v in (("gamma", gamma), ("beta", beta)):
        if v is not None and tuple(v.shape) != (d,):
            raise shape_error("layer_norm", f"{name} of shape ({d},) for input {x.shape}",
                              v.shape, "features are on the last axis")
    inputs = [x]
    if gamma is not None:
        inputs.append(as_tensor(gamma))
    if beta is not None:
        if gamma is None:
            raise ValueError("layer_norm: beta given without gamma; pass both or neither")
        inputs.append(as_tensor(beta))
    return LayerNorm(eps)(*inputs)


__all__ = ["layer_norm"]
