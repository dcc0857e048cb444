"""Losses, computed from probabilities or, stably, from logits.

Each loss reduces with ``reduction="mean"`` (the notes' cost, averaged over the m examples),
``"sum"`` or ``"none"``. Predictions and targets must have the same shape: a ``(m,)`` label
vector against ``(m, 1)`` predictions is an error, never silently broadcast to ``(m, m)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import array_module
from dlkit.errors import DTypeError, ShapeError
from dlkit.ops.activation import logistic_loss, stable_log_softmax, stable_sigmoid
from dlkit.tensor import Function, Tensor, as_tensor

_REDUCTIONS = ("mean", "sum", "none")
_LOG_FLOOR = -100.0  # log(0) is clamped here (as PyTorch), so a = 0 or 1 gives a finite cost
_GRAD_FLOOR = 1e-12


def _check_same_shape(op: str, pred: Any, target: Any) -> None:
    if pred.shape == target.shape:
        return
    hint = ""
    if pred.ndim == 2 and pred.shape[1] == 1 and target.shape == pred.shape[:1]:
        hint = "labels of shape (m,) against predictions (m, 1): use y.reshape(-1, 1)"
    elif target.ndim == 2 and target.shape[1] == 1 and pred.shape == target.shape[:1]:
        hint = "predictions of shape (m,) against labels (m, 1): use y.reshape(-1)"
    elif pred.shape[::-1] == target.shape:
        hint = "one of them is transposed (examples as columns?)"
    msg = f"{op}: expected target of the predictions' shape {pred.shape}, got {target.shape}"
    raise ShapeError(f"{msg}; {hint}" if hint else msg)


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: expected reduction in {_REDUCTIONS}, got {reduction!r}")


def _check_unit_interval(op: str, what: str, x: Tensor, hint: str = "",
                         slack: float = 0.0) -> None:
    """Refuse values outside [0, 1], give or take ``slack`` (one min and one max; NaN passes,
    for the training loop to report as divergence)."""
    data = x.data
    if data.size == 0 or data.dtype.kind == "b":
        return
    lo, hi = float(data.min()), float(data.max())
    if lo < -slack or hi > 1 + slack:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{op}: expected {what} in [0, 1], got {bad:g} (values from {lo:g} "
                         f"to {hi:g}){'; ' + hint if hint else ''}")


_TARGET_SLACK = 1e-6  # rounding in soft targets, and a gradient check's nudge of a 0/1 target
_BINARY_TARGETS = ("labels 0/1 or probabilities; for more than two classes use cross_entropy "
                   "with integer labels 0..C-1")


def _target(y: Any, like: Tensor) -> Tensor:
    """A target as a tensor of the prediction's float dtype (so float32 stays float32)."""
    y = as_tensor(y)
    if y.dtype != like.dtype and not y.requires_grad:
        y = Tensor(y.data.astype(like.dtype))
    return y


class _ElementwiseLoss(Function):
    """Shared reduction: forward returns per-element losses reduced; backward scales by 1/N."""

    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def reduce(self, losses):
        self.count = losses.size
        if self.reduction == "mean":
            return losses.mean()
        if self.reduction == "sum":
            return losses.sum()
        return losses

    def upstream(self, gy):
        if self.reduction == "mean":
            return gy / gy.dtype.type(max(self.count, 1))
        return gy


class BinaryCrossEntropy(_ElementwiseLoss):
    """J = -(1/m) sum(y log a + (1 - y) log(1 - a)), logs clamped at -100;
    da = (a - y) / (a (1 - a)) / m (the notes' -(y/a - (1-y)/(1-a))), denominator floored."""

    def forward(self, a, y):
        xp = array_module(a)
        with np.errstate(divide="ignore"):
            log_a = xp.maximum(xp.log(a), _LOG_FLOOR)
            log_1ma = xp.maximum(xp.log1p(-a), _LOG_FLOOR)
        self.a, self.y, self.log_a, self.log_1ma = a, y, log_a, log_1ma
        return self.reduce(-(y * log_a + (1 - y) * log_1ma))

    def backward(self, gy):
        g = self.upstream(gy)
        a, y = self.a, self.y
        ga = g * (a - y) / array_module(a).maximum(a * (1 - a), _GRAD_FLOOR)
        gt = g * (self.log_1ma - self.log_a) if self.needs_grad(1) else None
        return ga, gt


class BinaryCrossEntropyWithLogits(_ElementwiseLoss):
    """J = mean(max(z, 0) - z y + log(1 + e^-|z|)) = BCE(sigma(z), y) without overflow;
    dz = (sigma(z) - y) / m (the notes' dZ = A - Y)."""

    def forward(self, z, y):
        self.z, self.y = z, y
        return self.reduce(logistic_loss(z, y))

    def backward(self, gy):
        g = self.upstream(gy)
        gz = g * (stable_sigmoid(self.z) - self.y)
        gt = -g * self.z if self.needs_grad(1) else None
        return gz, gt


class CrossEntropy(Function):
    """Softmax cross-entropy from logits z (..., C): J = mean_i(logsumexp(z_i) - z_i[y_i]);
    dz = (softmax(z) - Y_onehot) / m (the notes' dZ = A - Y).

    Targets are integer class labels of shape z.shape[:-1], or probabilities (one-hot) of
    z's shape. Labels equal to ``ignore_index`` add nothing and are not counted in the mean.
    """

    def __init__(self, reduction: str, ignore_index: int, labels: Any) -> None:
        self.reduction, self.ignore_index, self.labels = reduction, ignore_index, labels

    def forward(self, z, probs=None):
        xp = array_module(z)
        # one exponential serves both the loss and the gradient
        log_softmax, self.softmax = stable_log_softmax(z, -1, with_softmax=True)
        if probs is not None:
            self.probs, self.valid, self.count = probs, None, z.size // z.shape[-1]
            losses = -(probs * log_softmax).sum(axis=-1)
            self.log_softmax = log_softmax
        else:
            flat = self.labels.reshape(-1)
            self.valid = flat != self.ignore_index
            # on a device: always mask, and keep the count there (no host round trip)
            self.all_valid = bool(self.valid.all()) if xp is np else False
            self.rows = xp.arange(flat.size)
            self.safe_labels = flat if self.all_valid else xp.where(self.valid, flat, 0)
            picked = log_softmax.reshape(-1, z.shape[-1])[self.rows, self.safe_labels]
            losses = (-picked if self.all_valid else -picked * self.valid).reshape(
                self.labels.shape)
            self.count = flat.size if self.all_valid else int(self.valid.sum()) if xp is np \
                else xp.maximum(self.valid.sum(), 1).astype(z.dtype)
        if self.reduction == "mean":
            return losses.sum() / self._divisor(z.dtype)
        if self.reduction == "sum":
            return losses.sum()
        return losses

    def _divisor(self, dtype: Any) -> Any:
        return dtype.type(max(self.count, 1)) if isinstance(self.count, int) else self.count

    def backward(self, gy):
        if self.reduction == "mean":
            gy = gy / self._divisor(gy.dtype)
        g = gy if self.reduction != "none" else gy[..., None]
        if self.valid is None:
            gz = g * (self.softmax * self.probs.sum(axis=-1, keepdims=True) - self.probs)
            gp = -g * self.log_softmax if self.needs_grad(1) else None
            return gz, gp
        gz = self.softmax * g
        flat = gz.reshape(-1, gz.shape[-1])
        flat[self.rows, self.safe_labels] -= g.reshape(-1) if g.ndim else g
        if not self.all_valid:
            flat *= self.valid[:, None]
        return gz


class MSELoss(_ElementwiseLoss):
    """J = mean((a - y)^2);  da = 2 (a - y) / N."""

    def forward(self, a, y):
        self.diff = a - y
        return self.reduce(self.diff * self.diff)

    def backward(self, gy):
        g = self.upstream(gy) * (2 * self.diff)
        return g, (-g if self.needs_grad(1) else None)


def binary_cross_entropy(a: Any, y: Any, reduction: str = "mean") -> Tensor:
    """The notes' logistic cost from probabilities ``a`` in [0, 1]; prefer the logits form."""
    _check_reduction("binary_cross_entropy", reduction)
    a = as_tensor(a)
    y = _target(y, a)
    _check_same_shape("binary_cross_entropy", a, y)
    _check_unit_interval("binary_cross_entropy", "probabilities a", a,
                         "pass sigmoid outputs, or logits to binary_cross_entropy_with_logits")
    _check_unit_interval("binary_cross_entropy", "targets", y, _BINARY_TARGETS, _TARGET_SLACK)
    return BinaryCrossEntropy(reduction)(a, y)


def binary_cross_entropy_with_logits(z: Any, y: Any, reduction: str = "mean") -> Tensor:
    """Logistic cost from logits ``z`` (before the sigmoid): finite for any z."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    z = as_tensor(z)
    y = _target(y, z)
    _check_same_shape("binary_cross_entropy_with_logits", z, y)
    _check_unit_interval("binary_cross_entropy_with_logits", "targets", y, _BINARY_TARGETS,
                         _TARGET_SLACK)
    return BinaryCrossEntropyWithLogits(reduction)(z, y)


def cross_entropy(
    logits: Any, y: Any, reduction: str = "mean", ignore_index: int = -100
) -> Tensor:
    """Softmax regression's cost from logits (m, C) (or (m, ..., C)) and integer labels
    (m,) (or (m, ...)) or one-hot/probability targets (m, C)."""
    op = "cross_entropy"
    _check_reduction(op, reduction)
    z = as_tensor(logits)
    if z.ndim < 1 or z.dtype.kind != "f":
        raise DTypeError(f"{op}: expected float logits of shape (m, C), got {z.dtype} {z.shape}")
    yt = as_tensor(y)
    if yt.dtype.kind in "iub":
        labels = yt.data
        if labels.shape != z.shape[:-1]:
            hint = ""
            if labels.shape == z.shape[:-1] + (1,):
                hint = "labels of shape (m, 1): use y.reshape(-1)"
            elif labels.shape == z.shape:
                hint = "integer one-hot targets? pass them as floats, or pass class indices"
            msg = f"{op}: expected integer labels of shape {z.shape[:-1]}, got {labels.shape}"
            raise ShapeError(f"{msg}; {hint}" if hint else msg)
        xp = array_module(z.data)
        labels = xp.asarray(labels)  # host labels follow the logits to their device
        if xp is not np:  # one host round trip for the check, not four
            outside = (labels < 0) | (labels >= z.shape[-1])
            check = bool((outside & (labels != ignore_index)).any())
        else:
            check = True
        valid = labels[labels != ignore_index] if check else labels[:0]
        if valid.size and (int(valid.min()) < 0 or int(valid.max()) >= z.shape[-1]):
            raise ValueError(
                f"{op}: labels must lie in [0, {z.shape[-1]}) for {z.shape[-1]} classes, got "
                f"values from {int(valid.min())} to {int(valid.max())}"
            )
        return CrossEntropy(reduction, ignore_index, xp.asarray(labels, dtype=np.int64))(z)
    yt = _target(yt, z)
    _check_same_shape(op, z, yt)
    return CrossEntropy(reduction, ignore_index, None)(z, yt)


def mse_loss(a: Any, y: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error mean((a - y)^2)."""
    _check_reduction("mse_loss", reduction)
    a = as_tensor(a)
    y = _target(y, a)
    _check_same_shape("mse_loss", a, y)
    return MSELoss(reduction)(a, y)
