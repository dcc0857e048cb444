"""Structuring ML projects (course 3): diagnosis of bias, variance and data mismatch, error
analysis, model choice with optimizing and satisficing metrics, experiment logs, and the run
folders that ``dlkit train`` writes and ``evaluate`` / ``runs`` / ``diagnose`` read."""

from dlkit.strategy.diagnose import (
    diagnose_errors,
    diagnose_run,
    learning_curve,
    plot_learning_curve,
)
from dlkit.strategy.error_analysis import ErrorTable, misclassified, plot_worst
from dlkit.strategy.experiment import ExperimentLogger, TensorBoard
from dlkit.strategy.selection import choose, single_number

__all__ = [
    "ErrorTable", "ExperimentLogger", "TensorBoard", "choose", "diagnose_errors",
    "diagnose_run", "learning_curve", "misclassified", "plot_learning_curve", "plot_worst",
    "single_number",
]
