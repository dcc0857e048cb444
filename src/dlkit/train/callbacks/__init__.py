"""Callbacks: hooks into fit (early stopping, checkpoints, logging, schedules, progress)."""

from dlkit.train.callbacks.base import Callback
from dlkit.train.callbacks.callback_list import CallbackList
from dlkit.train.callbacks.csv_logger import CSVLogger
from dlkit.train.callbacks.early_stopping import EarlyStopping
from dlkit.train.callbacks.lr_scheduler import LearningRateScheduler
from dlkit.train.callbacks.model_checkpoint import ModelCheckpoint
from dlkit.train.callbacks.monitor import Monitor
from dlkit.train.callbacks.progress_bar import ProgressBar
from dlkit.train.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "LearningRateScheduler",
    "ModelCheckpoint",
    "Monitor", "ProgressBar", "TerminateOnNaN",
]
