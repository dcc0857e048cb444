"""The multi-task (multi-label) loss of course 3: one logistic loss per label, summed over the
labels each example has; a label nobody gave (the notes' "?") adds nothing.

    J = (1/m) sum_i sum_{j labelled} L(yhat_j^(i), y_j^(i)),  L(a, y) = -y log a - (1-y) log(1-a)

computed from logits z (yhat = sigma(z)) as max(z, 0) - z y + log(1 + e^-|z|), finite for any
z; dz = (sigma(z) - y) / N on labelled entries (the notes' dZ = A - Y) and 0 on the others.
Unlike softmax regression, one example can have several labels.
"""

from __future__ import annotations

from typing import Any

from dlkit.backend import array_module
from dlkit.errors import DTypeError, ShapeError
from dlkit.ops.activation import logistic_loss, stable_sigmoid
from dlkit.ops.loss import _check_same_shape, _target
from dlkit.tensor import Function, Tensor, as_tensor

_REDUCTIONS = ("mean", "batchmean", "sum", "none")


class MultiLabelBCEWithLogits(Function):
    """Logistic loss per entry, times the mask of labelled entries, reduced; the mask is a
    constant (0/1 in z's dtype) fixed before the call."""

    def __init__(self, reduction: str, mask: Any) -> None:
        self.reduction, self.mask = reduction, mask

    def forward(self, z, y):
        xp = array_module(z)
        mask = self.mask
        y = xp.where(mask > 0, y, 0)  # "?" entries (NaN, -1) take a harmless 0
        self.z, self.y = z, y
        losses = logistic_loss(z, y) * mask
        if self.reduction == "none":
            return losses
        if self.reduction == "mean":  # over the labelled entries
            self.scale = z.dtype.type(1 / max(float(mask.sum()), 1.0))
        elif self.reduction == "batchmean":  # over the m examples: the notes' cost
            self.scale = z.dtype.type(1 / max(z.shape[0] if z.ndim else 1, 1))
        else:
            self.scale = z.dtype.type(1)
        return losses.sum() * self.scale

    def backward(self, gy):
        g = gy if self.reduction == "none" else gy * self.scale
        g = g * self.mask
        gz = g * (stable_sigmoid(self.z) - self.y)
        gt = -g * self.z if self.needs_grad(1) else None
        return gz, gt


def multilabel_bce_with_logits(z: Any, y: Any, mask: Any = None, reduction: str = "mean",
                               missing: float = -1.0) -> Tensor:
    """Multi-label logistic loss from logits ``z`` (m, L), skipping unlabelled entries.

    ``y`` holds 0/1 labels (or probabilities in [0, 1]) of z's shape; an entry that is NaN or
    equal to ``missing`` (-1) has no label. ``mask`` (z's shape, true = labelled) marks the
    labelled entries explicitly; it is combined with the NaN / ``missing`` entries of y.

    ``reduction``: "mean" (sum over the labelled entries divided by their number: PyTorch's
    ``binary_cross_entropy_with_logits(z, y, weight=mask, reduction="sum") / mask.sum()``),
    "batchmean" (divided by m: the notes' (1/m) sum_i sum_j), "sum", or "none" (per-entry
    losses, 0 where unlabelled). No labelled entry at all gives a cost of 0.
    """
    op = "multilabel_bce_with_logits"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: expected reduction in {_REDUCTIONS}, got {reduction!r}")
    z = as_tensor(z)
    if z.dtype.kind != "f":
        raise DTypeError(f"{op}: expected float logits, got {z.dtype} {z.shape}")
    y = _target(y, z)
    _check_same_shape(op, z, y)
    xp = array_module(z.data)
    given = ~xp.isnan(y.data) & (y.data != missing)
    if mask is not None:
        m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
        if m.shape != z.shape:
            raise ShapeError(f"{op}: expected a mask of the logits' shape {z.shape}, got "
                             f"{m.shape}")
        given &= m.astype(bool)
    if bool(given.any()):
        values = y.data[given]
        low, high = float(values.min()), float(values.max())
        if low < 0 or high > 1:
            raise ValueError(f"{op}: labels must be 0/1 (or probabilities in [0, 1]) where "
                             f"given and NaN or {missing:g} where missing; got values from "
                             f"{low:g} to {high:g}")
    return MultiLabelBCEWithLogits(reduction, given.astype(z.dtype))(z, y)


__all__ = ["MultiLabelBCEWithLogits", "multilabel_bce_with_logits"]
