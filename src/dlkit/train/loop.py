"""The training loop: fit, evaluate, predict."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.data.loader import DataLoader
from dlkit.nn.module import Module
from dlkit.optim.optimizer import Optimizer
from dlkit.tensor import Tensor, no_grad
from dlkit.train.callbacks import Callback
from dlkit.train.history import History
from dlkit.train.losses import LossSpec, get_loss
from dlkit.train.metrics import get_metric


class Trainer:
    """What callbacks see: the model, the optimizer, the history, and a stop flag."""

    def __init__(self, model: Module, optimizer: Optimizer, history: History) -> None:
        self.model, self.optimizer, self.history = model, optimizer, history
        self.stop_training = False
        self.epoch = 0


def predict(model: Module, X: Any, batch_size: int = 256) -> np.ndarray:
    """The model's outputs on X (eval mode, no tape), as a NumPy array."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            for (xb,) in DataLoader(X, batch_size=batch_size, shuffle=False):
                outputs.append(to_numpy(model(xb).data))
    finally:
        model.train(was_training)
    return np.concatenate(outputs)


def evaluate(model: Module, loss: str | Callable | LossSpec, X: Any, y: Any,
             metrics: Sequence[str] = ("accuracy",), batch_size: int = 256,
             output: str = "logits") -> dict[str, float]:
    """Loss and metrics over the whole of (X, y) in eval mode."""
    spec = get_loss(loss, output)
    outputs = predict(model, X, batch_size)
    y = np.asarray(y)
    logs = {"loss": float(spec.fn(Tensor(outputs), Tensor(y)).item())}
    for name in metrics:
        logs[name] = get_metric(name)(outputs, y, spec.output)
    return logs


def fit(model: Module, loss: str | Callable | LossSpec, optimizer: Optimizer, X: Any, y: Any,
        epochs: int = 10, batch_size: int = 64, validation_data: tuple[Any, Any] | None = None,
        callbacks: Sequence[Callback] = (), metrics: Sequence[str] = ("accuracy",),
        shuffle: bool = True, output: str = "logits") -> History:
    """Mini-batch training: for each epoch and batch, forward, loss, backward, step.

    ``loss`` is a name ("cross_entropy", "binary_cross_entropy_with_logits",
    "binary_cross_entropy", "mse") or a function (predictions, targets) -> scalar tensor.
    Logs per epoch: ``loss`` (mean over batches, weighted by batch size), each metric on the
    training set, and ``val_*`` on ``validation_data``. Returns the ``History``.
    """
    spec = get_loss(loss, output)
    for name in metrics:
        get_metric(name)
    if epochs < 0:
        raise ValueError(f"fit: expected epochs >= 0, got {epochs}")
    loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle)
    history = History()
    trainer = Trainer(model, optimizer, history)
    for cb in callbacks:
        cb.trainer = trainer
    for cb in callbacks:
        cb.on_train_begin({})
    for epoch in range(epochs):
        trainer.epoch = epoch
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {})
        model.train()
        total, seen = 0.0, 0
        outputs, targets = [], []
        for batch, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            out = model(xb)
            batch_loss = spec.fn(out, yb)
            batch_loss.backward()
            optimizer.step()
            value = float(batch_loss.item())
            total += value * len(xb)
            seen += len(xb)
            if metrics:
                outputs.append(to_numpy(out.data))
                targets.append(to_numpy(yb.data))
            for cb in callbacks:
                cb.on_batch_end(batch, {"loss": value})
        logs = {"loss": total / max(seen, 1)}
        if metrics:
            out_all, y_all = np.concatenate(outputs), np.concatenate(targets)
            for name in metrics:
                logs[name] = get_metric(name)(out_all, y_all, spec.output)
        if validation_data is not None:
            val = evaluate(model, spec, validation_data[0], validation_data[1], metrics)
            logs.update({f"val_{k}": v for k, v in val.items()})
        logs["lr"] = optimizer.lr
        history.append(epoch, logs)
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if trainer.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end(history.history and {k: v[-1] for k, v in history.history.items()})
    return history
