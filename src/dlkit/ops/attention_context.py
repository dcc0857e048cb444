"""Attention weights and context (course 5 week 3), one fused op:

    alpha<t,t'> = exp(e<t,t'>) / sum_{t''} exp(e<t,t''>)      (softmax over the input steps t')
    context<t>  = sum_{t'} alpha<t,t'> a<t'>

for one output step t, batch-first: e (m, T_x) scores, a (m, T_x, n) the encoder's features.
Masked input steps (mask 0: padding) get alpha = 0. Backward, with g_c = dL/dcontext and
g_alpha = dL/dalpha (when the weights are used too):

    d_alpha = a g_c + g_alpha        (m, T_x)
    de      = alpha * (d_alpha - sum_t' alpha d_alpha)      (the softmax's Jacobian)
    da      = alpha[:, :, None] * g_c[:, None, :]
"""

from __future__ import annotations

from typing import Any

from dlkit.backend import array_module
from dlkit.errors import ShapeError
from dlkit.tensor import Function, Tensor, as_tensor


class AttentionContext(Function):
    """(e (m, T_x), a (m, T_x, n)) -> (context (m, n), alpha (m, T_x))."""

    def __init__(self, mask: Any = None) -> None:
        self.mask = mask

    def forward(self, e, a):
        xp = array_module(e)
        z = e if self.mask is None else xp.where(self.mask, e, e.dtype.type(-1e30))
        z = z - z.max(axis=1, keepdims=True)
        alpha = xp.exp(z)
        if self.mask is not None:
            alpha *= self.mask
        alpha /= alpha.sum(axis=1, keepdims=True)
        self.alpha, self.a = alpha, a
        context = (alpha[:, None, :] @ a)[:, 0, :]
        return context, alpha

    def backward(self, gc, galpha):
        alpha, a = self.alpha, self.a
        d_alpha = (a @ gc[:, :, None])[:, :, 0] + galpha
        de = alpha * (d_alpha - (alpha * d_alpha).sum(axis=1, keepdims=True))
        da = alpha[:, :, None] * gc[:, None, :] if self.needs_grad(1) else None
        return de, da


def attention_context(e: Any, a: Any, mask: Any = None) -> tuple[Tensor, Tensor]:
    """Softmax over t' of the scores ``e`` (m, T_x) and the weighted sum of ``a`` (m, T_x, n):
    returns (context (m, n), alpha (m, T_x)). ``mask`` (m, T_x) of 0/1 leaves padding out."""
    e, a = as_tensor(e), as_tensor(a)
    if e.ndim != 2 or a.ndim != 3 or a.shape[:2] != e.shape:
        raise ShapeError(f"attention_context: expected scores e (m, T_x) and features a "
                         f"(m, T_x, n) with the same (m, T_x), got e {e.shape} and a {a.shape}")
    m = None
    if mask is not None:
        xp = array_module(e.data)
        m = xp.asarray(getattr(mask, "data", mask)) != 0
        if m.shape != e.shape:
            raise ShapeError(f"attention_context: expected a mask of shape {e.shape}, got "
                             f"{m.shape}")
        if not m.any(axis=1).all():
            raise ValueError("attention_context: every example needs at least one unmasked "
                             "input step")
    return AttentionContext(m)(e, a)


__all__ = ["AttentionContext", "attention_context"]
