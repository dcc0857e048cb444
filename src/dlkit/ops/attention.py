"""Scaled dot-product attention (the Transformer's core), with boolean masks.

    S = q k^T / sqrt(d_k),  S[~mask] = -inf,  P = softmax(S) (over the keys),  out = P v

Masks are booleans, True = attend (as Keras; PyTorch's boolean ``attn_mask`` of
``scaled_dot_product_attention`` means the same). ``padding_mask`` hides padded keys,
``causal_mask`` (the look-ahead mask) hides the future.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlkit.backend import array_module, generator
from dlkit.errors import DTypeError, ShapeError
from dlkit.tensor import Function, Tensor, as_tensor


def masked_softmax(s: Any, mask: Any = None) -> Any:
    """softmax over the last axis of s with the entries where ``mask`` is False left out
    (weight 0). A row whose keys are all masked gets weights 0 (not NaN), so its output is 0."""
    xp = array_module(s)
    if mask is not None:
        s = xp.where(mask, s, s.dtype.type(-np.inf))
    m = s.max(axis=-1, keepdims=True)
    if mask is not None:
        m = xp.where(xp.isfinite(m), m, s.dtype.type(0))
    e = xp.exp(s - m)
    total = e.sum(axis=-1, keepdims=True)
    if mask is not None:
        total = xp.where(total > 0, total, s.dtype.type(1))
    e /= total
    return e


class ScaledDotProductAttention(Function):
    """q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v) -> out (..., T_q, d_v).

    Forward:  S = q k^T / sqrt(d_k);  P = softmax(S) with masked entries 0;
              P~ = P * D / keep_prob (dropout on the weights, D ~ Bernoulli(keep_prob));
              out = P~ v.
    Backward: dv = P~^T dout;  dP = (dout v^T) * D / keep_prob;
              dS = P * (dP - sum_keys(dP * P));  dq = dS k / sqrt(d_k);  dk = dS^T q / sqrt(d_k).
    Only the (..., T_q, T_k) weights (and the dropout mask) are kept for the backward.
    """

    def __init__(self, mask: Any, dropout: float, scale: float) -> None:
        self.mask, self.dropout, self.scale = mask, dropout, scale

    def forward(self, q, k, v):
        xp = array_module(q)
        s = q @ k.swapaxes(-1, -2)
        s *= q.dtype.type(self.scale)
        if self.mask is not None and xp is not np:
            self.mask = xp.asarray(self.mask)  # a NumPy mask (causal_mask) for CuPy scores
        self.p = masked_softmax(s, self.mask)
        self.keep = None
        p = self.p
        if self.dropout > 0:
            keep_prob = 1.0 - self.dropout
            draw = generator(xp).random(p.shape, dtype=p.dtype)
            self.keep = (draw < keep_prob) * p.dtype.type(1.0 / keep_prob) if keep_prob > 0 \
                else xp.zeros_like(p)
            p = p * self.keep
        self.q, self.k, self.v, self.p_used = q, k, v, p
        return p @ v

    def backward(self, gy):
        p, q, k, v = self.p, self.q, self.k, self.v
        gq = gk = gv = None
        if self.needs_grad(2):
            gv = self.p_used.swapaxes(-1, -2) @ gy
        if self.needs_grad(0) or self.needs_grad(1):
            dp = gy @ v.swapaxes(-1, -2)
            if self.keep is not None:
                dp *= self.keep
            ds = dp
            ds -= (dp * p).sum(axis=-1, keepdims=True)
            ds *= p
            ds *= ds.dtype.type(self.scale)
            if self.needs_grad(0):
                gq = ds @ k
            if self.needs_grad(1):
                gk = ds.swapaxes(-1, -2) @ q
        return gq, gk, gv


def _check_mask(mask: Any, scores_shape: tuple) -> Any:
    m = mask.data if isinstance(mask, Tensor) else mask
    xp = array_module(m) if hasattr(m, "dtype") else np
    m = xp.asarray(m)
    if m.dtype != np.bool_:
        raise DTypeError(
            f"scaled_dot_product_attention: expected a boolean mask (True = attend), got "
            f"{m.dtype}; build one with padding_mask / causal_mask, or compare: mask = (m != 0)")
    ok = m.ndim <= len(scores_shape) and all(
        a == 1 or a == b for a, b in zip(m.shape[::-1], scores_shape[::-1]))
    if not ok:
        raise ShapeError(
            f"scaled_dot_product_attention: expected a mask broadcastable to the attention "
            f"scores' shape {tuple(scores_shape)} (..., T_q, T_k), got mask of shape "
            f"{tuple(m.shape)}")
    return m


def scaled_dot_product_attention(q: Any, k: Any, v: Any, mask: Any = None, dropout: float = 0.0,
                                 return_weights: bool = False) -> Any:
    """softmax(q k^T / sqrt(d_k) + mask) v for q (..., T_q, d_k), k (..., T_k, d_k),
    v (..., T_k, d_v); ``mask`` boolean, broadcastable to (..., T_q, T_k), True = attend.
    ``dropout``: probability of dropping each attention weight (training only: pass 0 at
    inference). ``return_weights``: also return the weights P (..., T_q, T_k), as a tensor
    off the tape (the weights before dropout)."""
    q, k, v = as_tensor(q), as_tensor(k), as_tensor(v)
    op = "scaled_dot_product_attention"
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.ndim < 2 or t.dtype.kind != "f":
            raise ShapeError(f"{op}: expected float {name} of shape (..., T, d), got "
                             f"{t.dtype} {t.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"{op}: expected q (..., T_q, d_k) and k (..., T_k, d_k) with the same "
                         f"d_k, got q of shape {q.shape} and k of shape {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{op}: expected k (..., T_k, d_k) and v (..., T_k, d_v) with the same "
                         f"T_k, got k of shape {k.shape} and v of shape {v.shape}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{op}: expected dropout in [0, 1), got {dropout}")
    try:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ShapeError(f"{op}: the leading (batch, head) axes of q {q.shape}, k {k.shape} and "
                         f"v {v.shape} do not broadcast") from None
    scores = (*lead, q.shape[-2], k.shape[-2])
    m = None if mask is None else _check_mask(mask, scores)
    fn = ScaledDotProductAttention(m, float(dropout), 1.0 / math.sqrt(q.shape[-1]))
    out = fn(q, k, v)
    return (out, Tensor(fn.p)) if return_weights else out


def padding_mask(ids: Any, pad_id: int = 0) -> np.ndarray:
    """The key mask of a padded batch of token ids (m, T_k): (m, 1, T_k) booleans, True where
    the token is not ``pad_id``; it broadcasts over the queries (m, T_q, T_k)."""
    ids = ids.data if isinstance(ids, Tensor) else ids
    xp = array_module(ids) if hasattr(ids, "dtype") else np
    ids = xp.asarray(ids)
    if ids.ndim != 2:
        raise ShapeError(f"padding_mask: expected token ids of shape (m, T), got shape "
                         f"{ids.shape}")
    return (ids != pad_id)[:, None, :]


def causal_mask(t_q: int, t_k: int | None = None) -> np.ndarray:
    """The look-ahead mask (T_q, T_k): query i may attend to keys j <= i + (T_k - T_q), i.e.
    to itself and the past; T_k > T_q when the queries are the last T_q of T_k positions
    (generation with a key/value cache)."""
    t_k = t_q if t_k is None else t_k
    if t_q < 0 or t_k < t_q:
        raise ValueError(f"causal_mask: expected 0 <= T_q <= T_k, got T_q={t_q}, T_k={t_k}")
    return np.tri(t_q, t_k, t_k - t_q, dtype=bool)


__all__ = ["causal_mask", "masked_softmax", "padding_mask", "scaled_dot_product_attention"]
