"""Optimizers, learning-rate schedules and gradient clipping, as the notes."""

from dlkit.optim.adam import Adam
from dlkit.optim.clip import clip_grad_norm, clip_grad_value
from dlkit.optim.optimizer import Optimizer
from dlkit.optim.rmsprop import RMSprop
from dlkit.optim.schedule import (
    ExponentialDecay,
    InverseSqrtDecay,
    InverseTimeDecay,
    Schedule,
    StepDecay,
)
from dlkit.optim.sgd import SGD, Momentum

__all__ = [
    "SGD", "Adam", "ExponentialDecay", "InverseSqrtDecay", "InverseTimeDecay", "Momentum",
    "Optimizer", "RMSprop", "Schedule", "StepDecay", "clip_grad_norm", "clip_grad_value",
]
