"""The costs of neural style transfer (Gatys et al. 2015), as the notes, as ops.

Activations are channels-last, (m, n_H, n_W, n_C) (the notes' images have m = 1); with m > 1
the costs add over the examples.

- ``content_cost(a_C, a_G) = 1/(4 n_H n_W n_C) sum (a_C - a_G)^2``
- ``gram_matrix(A)``: the style matrix G = A A^T of the unrolled activations A (n_C, n_H n_W)
  (a 2-D A as in the notes), or per example for (m, n_H, n_W, n_C) activations -> (m, n_C, n_C)
- ``layer_style_cost(a_S, a_G) = 1/(4 n_C^2 (n_H n_W)^2) sum_ij (G^(S)_ij - G^(G)_ij)^2``
- ``style_cost(a_S, a_G, weights) = sum_l lambda^[l] J^[l]_style``
- ``total_cost(J_content, J_style, alpha=10, beta=40) = alpha J_content + beta J_style``
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlkit.backend import array_module
from dlkit.errors import ShapeError
from dlkit.tensor import Function, Tensor, as_tensor

__all__ = ["ContentCost", "GramMatrix", "LayerStyleCost", "content_cost", "gram_matrix",
           "layer_style_cost", "style_cost", "total_cost"]


def _unroll(a: Any) -> Any:
    """(m, n_H, n_W, n_C) -> (m, n_H n_W, n_C): each row one position's channels."""
    return a.reshape(a.shape[0], -1, a.shape[-1])


def _gram(F: Any) -> Any:
    """G[k] = F[k]^T F[k] for F (m, n_H n_W, n_C) -> (m, n_C, n_C)."""
    return array_module(F).matmul(F.transpose(0, 2, 1), F)


def _check_activations(op: str, **arrays: Any) -> None:
    shapes = {k: tuple(v.shape) for k, v in arrays.items()}
    for name, shape in shapes.items():
        if len(shape) != 4:
            raise ShapeError(f"{op}: expected {name} of shape (m, n_H, n_W, n_C) (a layer's "
                             f"activations, channels-last), got {shape}")
    if len(set(shapes.values())) > 1:
        raise ShapeError(f"{op}: expected activations of one shape, got {shapes} (resize the "
                         f"images to one size)")


class ContentCost(Function):
    """J = c sum (a_C - a_G)^2, c = 1/(4 n_H n_W n_C);  da_G = -2c (a_C - a_G) = -da_C."""

    def forward(self, a_c, a_g):
        _, n_h, n_w, n_c = a_c.shape
        self.c = a_c.dtype.type(1.0 / (4 * n_h * n_w * n_c))
        self.diff = a_c - a_g
        return self.c * (self.diff * self.diff).sum()

    def backward(self, gy):
        g = 2 * self.c * gy * self.diff
        return g, -g


class GramMatrix(Function):
    """G = A A^T for A (n_C, k) (the notes' unrolled activations), or G[k] = F[k]^T F[k] for
    activations (m, n_H, n_W, n_C) with F[k] (n_H n_W, n_C); dA = (dG + dG^T) A."""

    def forward(self, a):
        self.a = a
        if a.ndim == 2:
            return a @ a.T
        return _gram(_unroll(a))

    def backward(self, gy):
        a = self.a
        xp = array_module(gy)
        if a.ndim == 2:
            return (gy + gy.T) @ a
        sym = gy + gy.transpose(0, 2, 1)
        return xp.matmul(_unroll(a), sym).reshape(a.shape)


class LayerStyleCost(Function):
    """J = c sum_ij (G^(S) - G^(G))_ij^2, c = 1/(4 n_C^2 (n_H n_W)^2), summed over examples;
    with D = G^(S) - G^(G): dG^(G) = -2c D, so da_G = F_G (dG + dG^T) = -4c F_G D (D is
    symmetric), and da_S = +4c F_S D."""

    def forward(self, a_s, a_g):
        _, n_h, n_w, n_c = a_g.shape
        self.c = a_g.dtype.type(1.0 / (4 * n_c**2 * (n_h * n_w) ** 2))
        self.f_s, self.f_g = _unroll(a_s), _unroll(a_g)
        self.d = _gram(self.f_s) - _gram(self.f_g)
        self.shape = a_g.shape
        return self.c * (self.d * self.d).sum()

    def backward(self, gy):
        xp = array_module(gy)
        k = 4 * self.c * gy
        g_s = (k * xp.matmul(self.f_s, self.d)).reshape(self.shape) if self.needs_grad(0) \
            else None
        g_g = (-k * xp.matmul(self.f_g, self.d)).reshape(self.shape)
        return g_s, g_g


def content_cost(a_C: Any, a_G: Any) -> Tensor:
    """The notes' J_content(C, G) = 1/(4 n_H n_W n_C) sum (a^(C) - a^(G))^2 over all entries;
    a_C, a_G (m, n_H, n_W, n_C)."""
    a_C, a_G = as_tensor(a_C), as_tensor(a_G)
    _check_activations("content_cost", a_C=a_C, a_G=a_G)
    return ContentCost()(a_C, a_G)


def gram_matrix(A: Any) -> Tensor:
    """The style (Gram) matrix: A (n_C, n_H n_W) -> A A^T (n_C, n_C), as the notes; or
    activations (m, n_H, n_W, n_C) -> (m, n_C, n_C)."""
    A = as_tensor(A)
    if A.ndim not in (2, 4):
        raise ShapeError(f"gram_matrix: expected A of shape (n_C, n_H*n_W) (unrolled, as the "
                         f"notes) or activations (m, n_H, n_W, n_C), got {A.shape}")
    return GramMatrix()(A)


def layer_style_cost(a_S: Any, a_G: Any) -> Tensor:
    """The notes' J^[l]_style(S, G) = 1/(4 n_C^2 (n_H n_W)^2) sum_ij (G^(S)_ij - G^(G)_ij)^2;
    a_S, a_G (m, n_H, n_W, n_C)."""
    a_S, a_G = as_tensor(a_S), as_tensor(a_G)
    _check_activations("layer_style_cost", a_S=a_S, a_G=a_G)
    return LayerStyleCost()(a_S, a_G)


def style_cost(a_S: Sequence[Any], a_G: Sequence[Any],
               weights: Sequence[float] | None = None) -> Tensor:
    """J_style = sum_l lambda^[l] J^[l]_style over the layers' activations (lists of equal
    length); ``weights`` lambda default to equal, summing to 1 (0.2 each for five layers)."""
    if len(a_S) != len(a_G) or not a_S:
        raise ValueError(f"style_cost: expected as many style as generated activations (at "
                         f"least one), got {len(a_S)} and {len(a_G)}")
    if weights is None:
        weights = [1.0 / len(a_S)] * len(a_S)
    if len(weights) != len(a_S):
        raise ValueError(f"style_cost: expected {len(a_S)} weights, got {len(weights)}")
    total: Tensor | None = None
    for s, g, w in zip(a_S, a_G, weights):
        term = layer_style_cost(s, g) * float(w)
        total = term if total is None else total + term
    assert total is not None
    return total


def total_cost(J_content: Any, J_style: Any, alpha: float = 10.0, beta: float = 40.0
               ) -> Tensor:
    """J(G) = alpha J_content(C, G) + beta J_style(S, G) (the course's alpha = 10, beta = 40)."""
    return as_tensor(J_content) * float(alpha) + as_tensor(J_style) * float(beta)
