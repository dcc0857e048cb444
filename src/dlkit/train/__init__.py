"""Training: fit / evaluate / predict, callbacks, metrics, losses by name, L2 penalty, transfer
learning (frozen backbones, new heads, cached features, progressive unfreezing)."""

from dlkit.train.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
)
from dlkit.train.diagnose import (
    diagnose_errors,
    diagnose_run,
    learning_curve,
    plot_learning_curve,
)
from dlkit.train.errors import ErrorTable, misclassified, plot_worst
from dlkit.train.experiment import ExperimentLogger, TensorBoard
from dlkit.train.history import History
from dlkit.train.loop import Trainer, batches, evaluate, fit, predict
from dlkit.train.losses import LOSSES, get_loss
from dlkit.train.metrics import METRICS, accuracy, f1, get_metric, precision, recall
from dlkit.train.regularization import l2_penalty
from dlkit.train.selection import choose, single_number
from dlkit.train.step import Step, StepOutput, SupervisedStep
from dlkit.train.transfer import (
    FeatureCache,
    freeze_backbone,
    parameterised_layers,
    replace_head,
    split_head,
    trainable_parameters,
    unfreeze_last,
)

__all__ = [
    "LOSSES", "METRICS", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History",
    "LearningRateScheduler", "ModelCheckpoint", "ProgressBar", "Step", "StepOutput",
    "SupervisedStep", "TerminateOnNaN", "Trainer", "batches",
    "accuracy", "evaluate", "f1", "fit", "get_loss", "get_metric", "l2_penalty", "precision",
    "predict", "recall", "FeatureCache", "freeze_backbone", "parameterised_layers",
    "replace_head", "split_head", "trainable_parameters", "unfreeze_last", "ErrorTable",
    "ExperimentLogger", "TensorBoard", "choose", "diagnose_errors", "diagnose_run",
    "learning_curve", "misclassified", "plot_learning_curve", "plot_worst", "single_number",
]
