"""Losses by name, and how each reads the model's output (logits or probabilities)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dlkit.ops import loss as L
from dlkit.ops.multilabel import multilabel_bce_with_logits
from dlkit.tensor import Tensor


@dataclass(frozen=True)
class LossSpec:
    """A loss and what the model outputs for it: "logits", "probabilities", "values", or
    "multilabel" (one logit per label, labels may be missing: NaN or -1)."""

    fn: Callable[[Tensor, Tensor], Tensor]
    output: str
    name: str


LOSSES: dict[str, LossSpec] = {
    "binary_cross_entropy_with_logits": LossSpec(
        L.binary_cross_entropy_with_logits, "logits", "binary_cross_entropy_with_logits"),
    "binary_cross_entropy": LossSpec(L.binary_cross_entropy, "probabilities",
                                     "binary_cross_entropy"),
    "cross_entropy": LossSpec(L.cross_entropy, "logits", "cross_entropy"),
    "mse": LossSpec(L.mse_loss, "values", "mse"),
}
LOSSES["multilabel_bce_with_logits"] = LossSpec(
    multilabel_bce_with_logits, "multilabel", "multilabel_bce_with_logits")
LOSSES["multilabel_bce"] = LOSSES["multi_task"] = LOSSES["multilabel_bce_with_logits"]
LOSSES["bce_logits"] = LOSSES["binary_cross_entropy_with_logits"]
LOSSES["bce"] = LOSSES["binary_cross_entropy"]
LOSSES["mse_loss"] = LOSSES["mse"]


def get_loss(loss: str | Callable | LossSpec, output: str = "logits") -> LossSpec:
    """A ``LossSpec`` from a name, a spec, or a callable (whose model outputs ``output``)."""
    if isinstance(loss, LossSpec):
        return loss
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss: unknown loss {loss!r}; expected one of {sorted(LOSSES)} "
                             "or a function (predictions, targets) -> scalar tensor")
        return LOSSES[loss]
    if not callable(loss):
        raise TypeError(f"loss: expected a name or a callable, got {type(loss).__name__}")
    return LossSpec(loss, output, getattr(loss, "__name__", "loss"))
