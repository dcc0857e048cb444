"""Training: fit / evaluate / predict, callbacks, metrics, losses by name."""

from dlkit.train.callbacks import Callback
from dlkit.train.history import History
from dlkit.train.loop import evaluate, fit, predict
from dlkit.train.losses import LOSSES, get_loss
from dlkit.train.metrics import accuracy

__all__ = ["LOSSES", "Callback", "History", "accuracy", "evaluate", "fit", "get_loss", "predict"]
