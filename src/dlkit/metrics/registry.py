"""Metrics by name, each knowing whether higher or lower is better.

``direction("val_error")`` is "min", ``direction("dev_accuracy")`` is "max": early stopping,
checkpoints, model choice and the tuner all ask here, so a metric's direction is stated once.
A name may carry a split prefix (``val_``, ``dev_``, ``train_``, ``test_``); losses
(``loss``, ``*_loss``) and times (``seconds``, ``*_ms``, ``latency``...) are lower-is-better
without registering. ``register_metric`` adds a metric of your own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from dlkit.metrics.classification import (
    accuracy,
    error,
    f1,
    log_loss,
    precision,
    recall,
    roc_auc,
    top_k_accuracy,
)


@dataclass(frozen=True)
class Metric:
    """A metric ``fn(outputs, targets, output) -> float`` and its direction."""

    name: str
    fn: Callable[..., float] | None
    higher_is_better: bool

    @property
    def mode(self) -> str:
        return "max" if self.higher_is_better else "min"


METRICS: dict[str, Metric] = {}


def register_metric(name: str, fn: Callable[..., float] | None, higher_is_better: bool,
                    *, replace: bool = False) -> Metric:
    """Add a metric (``fn`` None for a value logged by other means, e.g. perplexity). A name
    already taken is an error unless ``replace``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_metric: expected a non-empty name, got {name!r}")
    if name in METRICS and not replace:
        raise ValueError(f"register_metric: {name!r} is already a metric (higher is better: "
                         f"{METRICS[name].higher_is_better}); pass replace=True to change it")
    METRICS[name] = Metric(name, fn, bool(higher_is_better))
    return METRICS[name]


for _name, _fn in (("accuracy", accuracy), ("precision", precision), ("recall", recall),
                   ("f1", f1), ("f1_score", f1), ("top_5_accuracy", top_k_accuracy),
                   ("roc_auc", roc_auc), ("auc", roc_auc)):
    register_metric(_name, _fn, True)
for _name, _fn in (("error", error), ("log_loss", log_loss), ("loss", None),
                   ("perplexity", None), ("cer", None), ("wer", None)):
    register_metric(_name, _fn, False)
for _name, _fn in (("precision", precision), ("recall", recall), ("f1", f1)):
    for _avg in ("macro", "micro", "weighted"):
        register_metric(f"{_name}_{_avg}", partial(_fn, average=_avg), True)
        register_metric(f"{_avg}_{_name}", partial(_fn, average=_avg), True)
for _name in ("map", "map50", "mean_iou", "bleu", "exact_match"):
    register_metric(_name, None, True)

_TOP_K = re.compile(r"top_?(\d+)_accuracy")
_SPLITS = ("val_", "dev_", "train_", "test_", "train-dev_", "traindev_")
_LOWER_ENDS = ("loss", "_error", "_err", "_ms", "_s", "_sec", "seconds", "time", "latency")
_LOWER_STARTS = ("loss", "error", "latency")


def base_name(key: str) -> str:
    """The metric's name without a split prefix: "val_accuracy" -> "accuracy"."""
    for prefix in _SPLITS:
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix):]
    return key


def get_metric(name: str) -> Callable[..., float]:
    """A metric ``(outputs, targets, output) -> float`` by name; ``top_<k>_accuracy`` for any
    k, ``<metric>_macro`` / ``_micro`` / ``_weighted`` (or ``macro_<metric>``) for averages."""
    metric = METRICS.get(name) if isinstance(name, str) else None
    if metric is not None and metric.fn is not None:
        return metric.fn
    match = _TOP_K.fullmatch(name) if isinstance(name, str) else None
    if match and int(match.group(1)) >= 1:
        return partial(top_k_accuracy, k=int(match.group(1)))
    computable = sorted(k for k, m in METRICS.items() if m.fn is not None)
    raise ValueError(f"metric: unknown metric {name!r}; expected one of {computable} "
                     "or top_<k>_accuracy")


def direction(key: str, owner: str = "metric") -> str:
    """ "min" if lower is better for the logged value ``key`` ("val_loss", "dev_error",
    "latency_ms"), "max" if higher is ("val_accuracy", "f1"); an error for a name it cannot
    tell (pass a mode, or ``register_metric`` it)."""
    name = base_name(key).lower()
    if name in METRICS:
        return METRICS[name].mode
    if _TOP_K.fullmatch(name):
        return "max"
    if name.endswith(_LOWER_ENDS) or name.startswith(_LOWER_STARTS):
        return "min"
    raise ValueError(f"{owner}: cannot tell whether higher or lower is better for {key!r}; "
                     f"pass mode='min' or mode='max', or register it with "
                     f"dlkit.metrics.register_metric(name, fn, higher_is_better)")


def lower_is_better(key: str) -> bool:
    """Whether smaller is better for the logged value ``key`` (see ``direction``)."""
    return direction(key) == "min"


__all__ = ["METRICS", "Metric", "base_name", "direction", "get_metric", "lower_is_better",
           "register_metric"]
