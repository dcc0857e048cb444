"""Metrics: classification scores computed from outputs and targets, by name, each knowing
whether higher or lower is better (``direction``)."""

from dlkit.metrics.classification import (
    MULTILABEL,
    accuracy,
    confusion_matrix,
    error,
    f1,
    is_multiclass,
    labelled,
    log_loss,
    precision,
    predicted_classes,
    recall,
    roc_auc,
    top_k_accuracy,
    true_classes,
)
from dlkit.metrics.registry import (
    METRICS,
    Metric,
    base_name,
    direction,
    get_metric,
    lower_is_better,
    register_metric,
)

__all__ = [
    "METRICS", "MULTILABEL", "Metric", "accuracy", "base_name", "confusion_matrix",
    "direction", "error", "f1", "get_metric", "is_multiclass", "labelled", "log_loss",
    "lower_is_better", "precision", "predicted_classes", "recall", "register_metric",
    "roc_auc", "top_k_accuracy", "true_classes",
]
